CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE networks (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  driver        TEXT NOT NULL,
  scope         TEXT NOT NULL DEFAULT 'local',
  created       TEXT NOT NULL,    -- RFC3339Nano, UTC
  enable_ipv4   INTEGER NOT NULL,
  enable_ipv6   INTEGER NOT NULL,
  internal      INTEGER NOT NULL DEFAULT 0,
  attachable    INTEGER NOT NULL DEFAULT 0,
  ingress       INTEGER NOT NULL DEFAULT 0,
  config_only   INTEGER NOT NULL DEFAULT 0,
  config_from   TEXT NOT NULL DEFAULT '',
  ipam_driver   TEXT NOT NULL DEFAULT 'default',
  ipam_options  TEXT,            -- JSON object, or NULL when the creator sent none
  options       TEXT NOT NULL,   -- JSON object of driver options, as given
  labels        TEXT NOT NULL,   -- JSON object
  predefined    INTEGER NOT NULL DEFAULT 0,
  bridge_name   TEXT UNIQUE      -- the host link of a bridge network
) STRICT;
CREATE TABLE subnets (
  network_id  TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  position    INTEGER NOT NULL,  -- order of IPAM.Config
  family      INTEGER NOT NULL CHECK (family IN (4, 6)),
  subnet      TEXT NOT NULL,     -- canonical CIDR
  ip_range    TEXT,
  gateway     TEXT NOT NULL,
  aux         TEXT NOT NULL,     -- JSON object name -> address
  auto        INTEGER NOT NULL,
  shown       TEXT NOT NULL,     -- JSON: the IPAM.Config entry that inspect returns
  PRIMARY KEY (network_id, position)
) STRICT;
CREATE INDEX subnets_by_subnet ON subnets (subnet);
