-- Storage used: the bytes of each run's streamed lines (history, system metrics, console),
-- kept as they arrive so the Storage section and quotas never scan the lines. Existing
-- runs are counted once here.
ALTER TABLE runs ADD COLUMN data_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE runs SET data_bytes = (SELECT COALESCE(SUM(OCTET_LENGTH(data)), 0) FROM run_lines WHERE run_lines.run_id = runs.id);
