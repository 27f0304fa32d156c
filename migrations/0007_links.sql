-- cnmd schema, version 7: Docker's legacy links on the default bridge.

-- HostConfig.Links as resolved at create: JSON array of {containerId, name, alias} (the child by id,
-- so that a rename keeps the link; its name then, for the message when it is gone).
ALTER TABLE containers ADD COLUMN links TEXT NOT NULL DEFAULT '[]';
