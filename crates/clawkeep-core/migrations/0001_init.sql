-- Clawkeep schema v1: instances, keys (no secret values: those live in the OS keychain),
-- the append-only audit log, and settings.
CREATE TABLE instances (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  environment TEXT NOT NULL,
  workload TEXT NOT NULL DEFAULT '',
  purpose TEXT NOT NULL DEFAULT 'client',
  ssh_host TEXT NOT NULL DEFAULT '',
  ssh_port INTEGER NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
  ssh_user TEXT NOT NULL DEFAULT '',
  host_key_fingerprint TEXT,
  state_dir TEXT NOT NULL DEFAULT '~/.openclaw',
  service_manager TEXT NOT NULL,          -- JSON: {"kind":"systemd-user","unit":…} | {"kind":"custom","restart_command":…}
  injection TEXT NOT NULL DEFAULT 'env-file' CHECK (injection IN ('env-file','auth-profile','secret-file')),
  agents TEXT NOT NULL DEFAULT '["main"]', -- JSON array of agent ids
  expected_org_id TEXT,
  expected_workspace_id TEXT,
  tags TEXT NOT NULL DEFAULT '[]',         -- JSON array
  notes TEXT NOT NULL DEFAULT '',
  draft INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX instances_owner ON instances(owner);

CREATE TABLE keys (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('api','admin','oauth')),
  hint TEXT NOT NULL,
  fingerprint TEXT NOT NULL UNIQUE,        -- SHA-256 hex; one stored copy of a secret only
  length INTEGER NOT NULL,
  keychain_ref TEXT NOT NULL UNIQUE,
  instance_id INTEGER REFERENCES instances(id) ON DELETE RESTRICT,
  workspace_id TEXT,
  anthropic_key_id TEXT,
  status TEXT NOT NULL CHECK (status IN ('staged','active','retired','revoked')),
  name_override INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  rotated_at TEXT,
  retired_at TEXT,
  updated_at TEXT NOT NULL
);
-- One active key per instance, enforced by the database itself.
CREATE UNIQUE INDEX keys_one_active_per_instance ON keys(instance_id) WHERE status = 'active';
CREATE INDEX keys_instance ON keys(instance_id);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  os_user TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit(at);
-- Append-only: the log cannot be edited through SQL either.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
