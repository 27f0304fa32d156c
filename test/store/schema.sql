CREATE TABLE addresses (
  network_id    TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  address       TEXT NOT NULL,
  endpoint_id   TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  PRIMARY KEY (network_id, address)
) STRICT;
CREATE TABLE containers (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,   -- without the leading '/'
  created       TEXT NOT NULL,          -- RFC3339Nano
  config        TEXT NOT NULL,          -- JSON: the container Config as sent (Image, Cmd, Env, Hostname, …)
  host_config   TEXT NOT NULL,          -- JSON: HostConfig as sent
  network_mode  TEXT NOT NULL,          -- bridge, host, none, container:<full id>, or a network name/id as given
  sandbox_key   TEXT,                   -- an adopted namespace (path); NULL when cnmd makes one
  netns         TEXT,                   -- the /run/netns name cnmd made for it while running
  state         TEXT NOT NULL DEFAULT 'created',  -- created | running | exited
  pid           INTEGER NOT NULL DEFAULT 0,
  exit_code     INTEGER NOT NULL DEFAULT 0,
  error         TEXT NOT NULL DEFAULT '',
  started_at    TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
  finished_at   TEXT NOT NULL DEFAULT '0001-01-01T00:00:00Z',
  sandbox_id    TEXT NOT NULL DEFAULT '',
  restart_count INTEGER NOT NULL DEFAULT 0
, paused INTEGER NOT NULL DEFAULT 0, monitor_pid INTEGER NOT NULL DEFAULT 0, has_inside INTEGER NOT NULL DEFAULT 0, manually_stopped INTEGER NOT NULL DEFAULT 0, health TEXT, image_id TEXT NOT NULL DEFAULT '', mounts TEXT NOT NULL DEFAULT '[]', links TEXT NOT NULL DEFAULT '[]', pid_start TEXT NOT NULL DEFAULT '', boot_id TEXT NOT NULL DEFAULT '') STRICT;
CREATE TABLE endpoint_configs (
  container_id  TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network       TEXT NOT NULL,          -- the network as named by the client; resolved at start
  position      INTEGER NOT NULL,
  settings      TEXT NOT NULL,          -- JSON EndpointSettings (IPAMConfig, Aliases, MacAddress, DriverOpts, GwPriority, Links)
  PRIMARY KEY (container_id, network)
) STRICT;
CREATE TABLE endpoints (
  id            TEXT PRIMARY KEY,
  container_id  TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network_id    TEXT NOT NULL REFERENCES networks(id),
  config_key    TEXT NOT NULL,          -- endpoint_configs.network it realizes
  ifname        TEXT NOT NULL,
  host_ifname   TEXT NOT NULL UNIQUE,
  mac           TEXT NOT NULL,
  ipv4          TEXT,                   -- address/prefix
  ipv6          TEXT,
  gw_priority   INTEGER NOT NULL DEFAULT 0,
  position      INTEGER NOT NULL,
  UNIQUE (container_id, network_id),
  UNIQUE (container_id, ifname)
) STRICT;
CREATE TABLE firewall_chains (
  tbl  TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (tbl, name)
) WITHOUT ROWID;
CREATE TABLE image_tags (
  reference TEXT PRIMARY KEY,
  image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
) STRICT;
CREATE TABLE images (
  id       TEXT PRIMARY KEY,          -- 64 hex: sha256 of the reference it was first recorded by
  created  TEXT NOT NULL,             -- RFC3339Nano
  labels   TEXT NOT NULL DEFAULT '{}' -- JSON object
) STRICT;
CREATE TABLE made_paths (
  container_id TEXT NOT NULL,
  path         TEXT NOT NULL,
  PRIMARY KEY (container_id, path)
) STRICT;
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
CREATE TABLE port_bindings (
  container_id    TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  proto           TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),
  container_port  INTEGER NOT NULL,
  host_ip         TEXT NOT NULL,      -- 0.0.0.0 for every address
  host_port       INTEGER NOT NULL,
  PRIMARY KEY (proto, host_ip, host_port)
) STRICT;
CREATE TABLE remote_endpoints (
  id            TEXT PRIMARY KEY,
  network_id    TEXT NOT NULL,          -- a global network (its row may arrive after its endpoints)
  container_id  TEXT NOT NULL,
  node          TEXT NOT NULL,          -- the host that has it
  vtep          TEXT NOT NULL,          -- that host's underlay address
  mac           TEXT NOT NULL,
  ipv4          TEXT,                   -- CIDR
  ipv6          TEXT,
  names         TEXT NOT NULL           -- JSON array: the names it answers to on the network
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
CREATE TABLE volumes (
  name      TEXT PRIMARY KEY,
  driver    TEXT NOT NULL DEFAULT 'local',
  created   TEXT NOT NULL,            -- RFC3339 (Docker's CreatedAt)
  labels    TEXT NOT NULL,            -- JSON object
  options   TEXT NOT NULL,            -- JSON object
  -- an anonymous volume: the container it was made for (rm -v removes it) and where it is mounted there
  container_id TEXT,
  target    TEXT
) STRICT;
CREATE INDEX endpoints_by_network ON endpoints (network_id);
CREATE INDEX image_tags_by_image ON image_tags (image_id);
CREATE INDEX port_bindings_by_container ON port_bindings (container_id);
CREATE INDEX remote_endpoints_by_network ON remote_endpoints (network_id);
CREATE INDEX subnets_by_subnet ON subnets (subnet);
