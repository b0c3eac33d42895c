-- Schema version 4: outages (F-1…F-3).
--
-- An agent whose retry an outage holds waits for the outage's end, not for
-- a time: `held_since` is set (only while `reconnecting`) and
-- `next_retry_at` is not. The order of `held_since` is the order in which
-- the held agents resume (R-5).
ALTER TABLE agents ADD COLUMN held_since INTEGER;

-- Every outage of the fleet: the open one (no `ended_at`) is the fleet's
-- state, kept across restarts; the ended ones are its history (H-4 counts
-- those of the last 7 days) and are pruned with the agents' (H-5).
CREATE TABLE outages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    -- Why it began, in plain words ("40 of 52 linked agents dropped within 60 s").
    cause      TEXT    NOT NULL,
    -- Probes that failed so far: the next one waits R-1's delay for this count.
    probes     INTEGER NOT NULL DEFAULT 0 CHECK (probes >= 0),
    ended_at   INTEGER,
    -- How it ended, in plain words ("Sales 3 connected").
    ended_by   TEXT,
    CHECK ((ended_at IS NULL) = (ended_by IS NULL))
) STRICT;

-- At most one outage is open at a time.
CREATE UNIQUE INDEX one_open_outage ON outages ((ended_at IS NULL)) WHERE ended_at IS NULL;
