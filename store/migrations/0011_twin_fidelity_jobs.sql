-- Fidelity reports as jobs (POST /twin/fidelity with "async": true). The table of people a job
-- validates is kept beside its row, not in `request`, so a status poll never reads it; it is
-- dropped when the job finishes (succeeded, failed or cancelled: it never runs again).
ALTER TABLE twin_jobs DROP CONSTRAINT IF EXISTS twin_jobs_kind_check;
ALTER TABLE twin_jobs
    ADD CONSTRAINT twin_jobs_kind_check CHECK (kind IN ('survey', 'focus_group', 'fidelity'));
CREATE TABLE IF NOT EXISTS twin_job_tables (
    job_id      UUID PRIMARY KEY REFERENCES twin_jobs (id) ON DELETE CASCADE,
    records_csv TEXT NOT NULL
);
