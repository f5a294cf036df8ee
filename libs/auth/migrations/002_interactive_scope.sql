-- The `interactive` scope (issue 12): a key that holds it may ask for interactive service
-- for work that defaults to bulk (an asynchronous proof, a batch). Existing keys keep their scopes.
alter table api_keys drop constraint api_keys_scopes_check;
alter table api_keys add constraint api_keys_scopes_check
  check (cardinality(scopes) > 0 and scopes <@ array['submit', 'read', 'admin', 'interactive']);
