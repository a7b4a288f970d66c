-- Budget reservations are rows with an expiry: a process that dies mid-chat cannot hold a key's
-- budget past `expires_at`, and settling deletes the row and adds the real usage in one statement.
CREATE TABLE IF NOT EXISTS budget_reservations (
    id           UUID PRIMARY KEY,
    key_hash     TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    tokens       BIGINT NOT NULL CHECK (tokens >= 0),
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS budget_reservations_live ON budget_reservations (key_hash, period_start, expires_at);
CREATE INDEX IF NOT EXISTS budget_reservations_expiry ON budget_reservations (expires_at);
