-- cnmd schema, version 6: the engine around networks (images as names, volumes, health checks).

-- An image is a name cnmd records (pulled, tagged, or named by a container); it has no layers.
CREATE TABLE images (
  id       TEXT PRIMARY KEY,          -- 64 hex: sha256 of the reference it was first recorded by
  created  TEXT NOT NULL,             -- RFC3339Nano
  labels   TEXT NOT NULL DEFAULT '{}' -- JSON object
) STRICT;

-- Its names: normalized references (busybox:latest, registry.example:5000/team/app:v1).
CREATE TABLE image_tags (
  reference TEXT PRIMARY KEY,
  image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
) STRICT;

CREATE INDEX image_tags_by_image ON image_tags (image_id);

-- Named volumes: directories under <data-root>/volumes/<name>/_data.
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

-- Mount points cnmd made on the host for a container's binds (its filesystem is the host's): removed
-- with the container when they are empty and no other container mounts there.
CREATE TABLE made_paths (
  container_id TEXT NOT NULL,
  path         TEXT NOT NULL,
  PRIMARY KEY (container_id, path)
) STRICT;

-- State.Health while a health check runs: JSON {Status, FailingStreak, Log}
ALTER TABLE containers ADD COLUMN health TEXT;

-- The image a container was created from (images.id; it may lose its names later, as in Docker).
ALTER TABLE containers ADD COLUMN image_id TEXT NOT NULL DEFAULT '';

-- Its mounts as resolved at create (binds, named and anonymous volumes, tmpfs): JSON array
ALTER TABLE containers ADD COLUMN mounts TEXT NOT NULL DEFAULT '[]';
