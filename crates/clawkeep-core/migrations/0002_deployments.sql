-- Clawkeep schema v2: one row per deployment of a key to an instance (issue 5). No secret values:
-- the key appears only as its SHA-256 fingerprint and name.
CREATE TABLE deployments (
  id INTEGER PRIMARY KEY,
  instance TEXT NOT NULL,                  -- the instance's name at the time
  instance_id INTEGER REFERENCES instances(id) ON DELETE SET NULL,
  key_name TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,           -- SHA-256 hex of the deployed key
  method TEXT NOT NULL,                    -- env-file | auth-profile | secret-file
  os_user TEXT NOT NULL,                   -- who ran it
  started_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('succeeded','failed','rolled-back','rollback-failed','cancelled','refused')),
  error TEXT,                              -- {code, message} JSON when it failed
  rollback TEXT,                           -- what the rollback did, when there was one
  details TEXT NOT NULL DEFAULT '{}'       -- steps, stale credentials removed, host key
);
CREATE INDEX deployments_instance ON deployments(instance, started_at);
