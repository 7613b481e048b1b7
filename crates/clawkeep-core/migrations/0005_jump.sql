-- A stored ProxyJump hop: the instance is reached through another (trusted) instance, a bastion.
-- By id, so renaming the bastion keeps the link; RESTRICT, so it can't be removed while used
-- (the app refuses first, with the names of the instances that use it).
ALTER TABLE instances ADD COLUMN jump_via_id INTEGER REFERENCES instances(id) ON DELETE RESTRICT;
