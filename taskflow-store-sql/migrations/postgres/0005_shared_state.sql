-- Small records every instance must agree on (taskflow-core's `SharedState`: the login
-- throttle's per-account budgets). A record counts as absent from `expires_at` on; writes
-- are conditional on `version`, and purges delete expired rows by the index.
CREATE TABLE shared_state (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    version     bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX shared_state_expiry ON shared_state (expires_at);
