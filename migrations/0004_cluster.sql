-- cnmd schema, version 4: what this host mirrors from the cluster store (etcd) for overlay networks.
-- Global networks themselves are rows of networks (scope 'global'); the endpoints other hosts
-- publish on them are kept here, for the data plane (FDB and neighbour entries) and name resolution.

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

CREATE INDEX remote_endpoints_by_network ON remote_endpoints (network_id);
