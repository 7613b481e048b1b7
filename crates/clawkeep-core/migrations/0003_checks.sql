-- Clawkeep schema: troubleshooting checklist history (issue 6). One row per instance run, with
-- its timings and the full report as JSON (no secrets: hints and fingerprints only).
-- IF NOT EXISTS: safe to re-run if migrations are renumbered when branches merge.
CREATE TABLE IF NOT EXISTS check_runs (
  id INTEGER PRIMARY KEY,
  instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  started_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('skip','pass','warn','fail')),
  first_failing_domain TEXT,
  total_ms INTEGER NOT NULL,
  host_ms INTEGER NOT NULL,
  api_ms INTEGER NOT NULL,
  errors_429_1h INTEGER NOT NULL DEFAULT 0,
  report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS check_runs_instance ON check_runs(instance_id, started_at);
