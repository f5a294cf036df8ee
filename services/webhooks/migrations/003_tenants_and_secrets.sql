-- Tenants: a subscription is one tenant's and hears that tenant's events only; a job's
-- callback and every delivery carry the job's tenant (rows from before tenants: 'default').
alter table webhook_subscriptions add column tenant text not null default 'default';
alter table webhook_job_callbacks add column tenant text not null default 'default';
alter table webhook_deliveries add column tenant text not null default 'default';

-- A tenant's subscriptions newest first, instead of everyone's.
drop index webhook_subscriptions_active_idx;
create index webhook_subscriptions_tenant_active_idx on webhook_subscriptions (tenant, created_at desc, id desc) where deleted_at is null;

-- Subscription secrets are kept sealed (AES-256-GCM, WEBHOOK_SECRETS_KEY; secret-box.ts). A
-- migration cannot seal (the key is in the service's environment): the service seals the clear
-- secrets left in `secret` when it starts, and clears them.
alter table webhook_subscriptions add column secret_ciphertext text;
alter table webhook_subscriptions alter column secret drop not null;
alter table webhook_subscriptions add constraint webhook_subscriptions_secret_kept check (secret is not null or secret_ciphertext is not null);

-- Each tenant's secret for signing its job callbacks, made on first use (tenant 'default'
-- from WEBHOOK_SIGNING_SECRET when it is set). A rotation keeps the previous one signing
-- beside the new one until previous_expires_at, so receivers can switch without a gap.
create table webhook_signing_secrets (
  tenant              text primary key,
  secret_ciphertext   text not null,
  created_at          timestamptz not null default now(),  -- when the current secret was made
  previous_ciphertext text,
  previous_expires_at timestamptz
);
