-- Rotation: per-owner / per-instance rotation policies, and the persisted step machine of
-- guided rotations (one open rotation per instance). The machine's full state is JSON in
-- `state` (the same serialisable struct the UI receives); the columns beside it are for queries.
CREATE TABLE rotation_policies (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('default','owner','instance')),
  owner TEXT,                                                   -- scope 'owner'
  instance_id INTEGER REFERENCES instances(id) ON DELETE CASCADE, -- scope 'instance'
  max_age_days INTEGER NOT NULL CHECK (max_age_days BETWEEN 1 AND 3650),
  warn_days INTEGER NOT NULL CHECK (warn_days BETWEEN 0 AND 3650),
  weekday TEXT CHECK (weekday IS NULL OR weekday IN ('mon','tue','wed','thu','fri','sat','sun')),
  window_start TEXT,                                            -- HH:MM, UTC
  window_end TEXT,                                              -- HH:MM, UTC
  updated_at TEXT NOT NULL,
  CHECK ((scope = 'default' AND owner IS NULL AND instance_id IS NULL)
      OR (scope = 'owner' AND owner IS NOT NULL AND instance_id IS NULL)
      OR (scope = 'instance' AND owner IS NULL AND instance_id IS NOT NULL))
);
CREATE UNIQUE INDEX rotation_policies_default ON rotation_policies(scope) WHERE scope = 'default';
CREATE UNIQUE INDEX rotation_policies_owner ON rotation_policies(owner) WHERE scope = 'owner';
CREATE UNIQUE INDEX rotation_policies_instance ON rotation_policies(instance_id) WHERE scope = 'instance';

CREATE TABLE rotations (
  id INTEGER PRIMARY KEY,
  instance_id INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  outcome TEXT NOT NULL CHECK (outcome IN ('in_progress','completed','rolled_back')),
  step TEXT NOT NULL,
  state TEXT NOT NULL,                                          -- JSON: rotation::Rotation
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- One open rotation per instance, enforced by the database itself.
CREATE UNIQUE INDEX rotations_one_open_per_instance ON rotations(instance_id) WHERE outcome = 'in_progress';
CREATE INDEX rotations_instance ON rotations(instance_id);
