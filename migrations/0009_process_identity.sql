-- cnmd schema, version 9: a container's process is known by identity, not by pid alone. A pid is
-- reused; the pid with the kernel's start time of that process (field 22 of /proc/PID/stat) and
-- the boot it ran in (/proc/sys/kernel/random/boot_id) is not. A process that fails the check is
-- gone: cnmd never gives its namespace a name again nor signals it.

-- the start time of the process at pid ('' when none is recorded: rows written before version 9)
ALTER TABLE containers ADD COLUMN pid_start TEXT NOT NULL DEFAULT '';
-- the boot in which the container last started ('' before version 9); another boot means it is exited
ALTER TABLE containers ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
