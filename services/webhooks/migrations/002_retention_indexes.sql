-- Retention (store.ts prune*) deletes settled deliveries, remembered callbacks and deleted
-- subscriptions once they are old enough, oldest first: these indexes find them.
create index webhook_deliveries_settled_idx on webhook_deliveries (status, completed_at) where status <> 'pending';
create index webhook_job_callbacks_created_idx on webhook_job_callbacks (created_at);
create index webhook_subscriptions_deleted_idx on webhook_subscriptions (deleted_at) where deleted_at is not null;
