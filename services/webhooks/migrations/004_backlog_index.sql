-- The backlog metrics (store.ts readDeliveryBacklog): the pending deliveries by attempts made,
-- so the oldest never tried is the index's first entry and both counts are index-only scans.
create index webhook_deliveries_backlog_idx on webhook_deliveries (attempt_count, created_at) where status = 'pending';
