-- Finished jobs older than `job_retention_days` are pruned with their attempts (the soak
-- saw two jobs and a few attempt rows per run end stay forever); this finds them without
-- walking the pending ones.
CREATE INDEX IF NOT EXISTS jobs_done_finished ON jobs (finished_at) WHERE status = 'done';
