-- cnmd schema, version 3: host ports published for running containers.

CREATE TABLE port_bindings (
  container_id    TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  proto           TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),
  container_port  INTEGER NOT NULL,
  host_ip         TEXT NOT NULL,      -- 0.0.0.0 for every address
  host_port       INTEGER NOT NULL,
  PRIMARY KEY (proto, host_ip, host_port)
) STRICT;

CREATE INDEX port_bindings_by_container ON port_bindings (container_id);
