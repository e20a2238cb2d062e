-- An Idempotency-Key belongs to the API key that sent it: a stored response
-- is replayed only to that key, and another key of the workspace sending the
-- same Idempotency-Key makes a request of its own (its own scopes checked).
-- The records kept so far do not say which key made them, so they go: a retry
-- that straddles this migration runs its request again, as one after the
-- retention period would.
delete from idempotency_records;
alter table idempotency_records add column api_key_id uuid not null;
alter table idempotency_records drop constraint idempotency_records_pkey;
alter table idempotency_records add primary key (workspace_id, api_key_id, key);
alter table idempotency_records
    add foreign key (workspace_id, api_key_id) references api_keys (workspace_id, id)
    on delete cascade;
