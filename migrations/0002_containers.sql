-- cnmd schema, version 2: containers (sandboxes), their requested and realized endpoints, and the
-- addresses handed out on each network.

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
) STRICT;

-- What the container asked for on each network (create's EndpointsConfig, connect): kept while stopped.
CREATE TABLE endpoint_configs (
  container_id  TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  network       TEXT NOT NULL,          -- the network as named by the client; resolved at start
  position      INTEGER NOT NULL,
  settings      TEXT NOT NULL,          -- JSON EndpointSettings (IPAMConfig, Aliases, MacAddress, DriverOpts, GwPriority, Links)
  PRIMARY KEY (container_id, network)
) STRICT;

-- Endpoints of running containers: a veth whose peer is ifname inside the sandbox.
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

CREATE INDEX endpoints_by_network ON endpoints (network_id);

-- Addresses in use on a network, by endpoint.
CREATE TABLE addresses (
  network_id    TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
  address       TEXT NOT NULL,
  endpoint_id   TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  PRIMARY KEY (network_id, address)
) STRICT;
