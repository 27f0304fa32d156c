-- cnmd schema, version 5: what a container's processes need (containers you can enter).

-- SIGSTOPped by `docker pause`
ALTER TABLE containers ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
-- the shim (cnmd's holder of the command's terminal or stdin, which outlives the daemon); 0 without one
ALTER TABLE containers ADD COLUMN monitor_pid INTEGER NOT NULL DEFAULT 0;
-- its mount and UTS namespaces exist while it runs: made for its command, or by a first exec
ALTER TABLE containers ADD COLUMN has_inside INTEGER NOT NULL DEFAULT 0;
-- stopped by `docker stop` (or kill): a restart policy does not bring it back, `unless-stopped` not even at start-up
ALTER TABLE containers ADD COLUMN manually_stopped INTEGER NOT NULL DEFAULT 0;
