-- Survey and focus-group jobs (POST /twin/survey or /twin/focus_group with "async": true). The
-- task queue (procrastinate, `queue_job_id`) decides which worker runs a job; this row is what a
-- status poll reads on any replica: state, progress, the result or the error. It outlives the
-- process that accepted or ran the job, so a restart resumes it or fails it with a reason.
CREATE TABLE IF NOT EXISTS twin_jobs (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('survey', 'focus_group')),
    caller       TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    request      JSONB NOT NULL,
    model        TEXT NOT NULL,
    queue_job_id BIGINT,
    runs         INTEGER NOT NULL DEFAULT 0 CHECK (runs >= 0),
    done         INTEGER NOT NULL DEFAULT 0 CHECK (done >= 0),
    total        INTEGER CHECK (total >= 0),
    result       JSONB,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS twin_jobs_unfinished_idx ON twin_jobs (created_at)
    WHERE state IN ('queued', 'running');
