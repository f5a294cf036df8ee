-- API keys (libs/auth): every service that authenticates reads this table, through a cache;
-- `veriflow keys` and the gateway's /api/keys write it. Applied by whichever service (or the
-- CLI) starts first, recorded in auth_schema_migrations.

create table api_keys (
  id           uuid primary key,
  tenant       text not null check (tenant ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  scopes       text[] not null check (cardinality(scopes) > 0 and scopes <@ array['submit', 'read', 'admin']),
  -- SHA-256 of the key: the key itself is shown once, when it is created, and kept nowhere.
  key_hash     bytea not null unique check (length(key_hash) = 32),
  -- The key's first characters, not secret: what lists show so a person can tell keys apart.
  prefix       text not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz,
  -- A revoked key stays (so the system never falls back to running open once it had a key).
  revoked_at   timestamptz,
  -- Written at most once a minute per key, not per request.
  last_used_at timestamptz
);

-- `veriflow keys list --tenant t` and GET /api/keys: a tenant's keys, newest first.
create index api_keys_tenant_created_idx on api_keys (tenant, created_at desc, id desc);
