-- The webhooks service's own tables: subscriptions, the callback URL each job asked for,
-- one delivery per (event, target) and every attempt of each delivery.

create table webhook_subscriptions (
  id          uuid primary key,
  url         text not null,
  event_types text[] not null,
  -- The signing secret: kept in clear because every delivery is signed with it.
  secret      text not null,
  description text,
  created_at  timestamptz not null default now(),
  deleted_at  timestamptz                        -- soft delete: past deliveries stay readable
);

create index webhook_subscriptions_active_idx on webhook_subscriptions (created_at desc, id desc) where deleted_at is null;

create table webhook_job_callbacks (
  job_id     text primary key,                   -- from the job's verification.requested
  url        text not null,
  created_at timestamptz not null default now()
);

create table webhook_deliveries (
  id              uuid primary key,
  event_id        text not null,                 -- the envelope id, sent as webhook-id
  event_type      text not null,
  job_id          text not null,
  -- 'job' for the job's callbackUrl, 'subscription:<id>' for a subscription.
  target          text not null,
  subscription_id uuid references webhook_subscriptions (id),
  url             text not null,
  body            text not null,                 -- the exact bytes signed and sent on every attempt
  status          text not null default 'pending'
                    check (status in ('pending', 'delivered', 'failed', 'gone', 'cancelled')),
  attempt_count   integer not null default 0,
  next_attempt_at timestamptz,                   -- when pending: due time, or the claim's lease
  last_status_code integer,
  last_error      text,
  created_at      timestamptz not null default now(),
  expires_at      timestamptz not null,          -- no attempt starts after this (WEBHOOK_MAX_AGE_MS)
  completed_at    timestamptz,
  unique (event_id, target)
);

create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_job_idx on webhook_deliveries (job_id, created_at) where target = 'job';
create index webhook_deliveries_subscription_idx on webhook_deliveries (subscription_id, created_at desc, id desc);

create table webhook_delivery_attempts (
  delivery_id     uuid not null references webhook_deliveries (id),
  attempt         integer not null,
  started_at      timestamptz not null,
  duration_ms     integer not null,
  status_code     integer,                       -- null when no response came back
  error           text,
  outcome         text not null check (outcome in ('delivered', 'retry', 'failed', 'gone')),
  next_attempt_at timestamptz,                   -- when the next attempt is due (retry only)
  primary key (delivery_id, attempt)
);
