-- Schema version 7: the WhatsApp Web version the fleet announces (F-7).
--
-- One row at most: the version last fetched from WhatsApp, and when (epoch
-- ms). Every connection announces it; it is fetched again once it is a day
-- old, and kept when a fetch fails.
CREATE TABLE client_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    major      INTEGER NOT NULL CHECK (major BETWEEN 0 AND 4294967295),
    minor      INTEGER NOT NULL CHECK (minor BETWEEN 0 AND 4294967295),
    build      INTEGER NOT NULL CHECK (build BETWEEN 0 AND 4294967295),
    fetched_at INTEGER NOT NULL
) STRICT;
