-- Background persona batch jobs (POST /personas/batch/create?background=true). Any replica can
-- answer a status poll; the replica running a job refreshes heartbeat_at while it works, so a
-- job whose process died is recognisable (stale heartbeat) and is marked failed.
CREATE TABLE IF NOT EXISTS batch_jobs (
    id           UUID PRIMARY KEY,
    key_hash     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    request      JSONB NOT NULL,
    account_ids  JSONB NOT NULL,
    total        INTEGER NOT NULL CHECK (total >= 0),
    done         INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
    results      JSONB NOT NULL DEFAULT '[]'::jsonb,
    result       JSONB,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS batch_jobs_unfinished_idx ON batch_jobs (heartbeat_at)
    WHERE status IN ('queued', 'running');
