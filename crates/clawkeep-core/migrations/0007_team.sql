-- The team vault (issue 15): this data dir's membership of one team store (a Git repository),
-- and the keys a departed member could decrypt ("exposed: rotate"; they lead the rotation plan).
CREATE TABLE team (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  member TEXT NOT NULL,
  signing_key TEXT NOT NULL,   -- path of the SSH key git signs with (private key, or its .pub with ssh-agent)
  remote TEXT,                 -- the repository (URL or path), once the store is initialised or joined
  verified_head TEXT,          -- the last commit verified and imported
  base_head TEXT,              -- the commit the local index last agreed with (the base of a field merge)
  joined_at TEXT NOT NULL
);

CREATE TABLE key_exposures (
  key_name TEXT PRIMARY KEY,
  member TEXT NOT NULL,        -- who could read it
  at TEXT NOT NULL
);
