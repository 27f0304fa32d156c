-- cnmd schema, version 8: the iptables chains cnmd made (the iptables backend, and the marked accepts
-- the nftables backend keeps there). Only these are ever removed: a chain named like ours that cnmd
-- did not make is someone else's. Recorded before the chain is made, dropped after it is gone.
CREATE TABLE firewall_chains (
  tbl  TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (tbl, name)
) WITHOUT ROWID;
