-- Switchboard's schema, version 1. Migrations are the only place the schema
-- is written; `crates/engine/src/store/mod.rs` lists them in order.

-- One row per agent: its persisted status and every deadline SPEC names.
-- Times are milliseconds since the Unix epoch. `status` has no CHECK: a row
-- written by another version must still load (it is treated by A-4).
CREATE TABLE agents (
    -- AUTOINCREMENT: an id is never reused, so a removed agent's id never
    -- names a new one (in logs, or in a UI that still holds the old row).
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL,
    -- The name folded to lower case: names are unique regardless of case.
    name_key             TEXT    NOT NULL UNIQUE,
    phone                TEXT,
    status               TEXT    NOT NULL,
    reason               TEXT    NOT NULL DEFAULT '',
    last_code            INTEGER,
    has_credentials      INTEGER NOT NULL DEFAULT 0 CHECK (has_credentials IN (0, 1)),
    disconnected_at      INTEGER,
    last_auth_failure_at INTEGER,
    last_attempt_at      INTEGER,
    next_retry_at        INTEGER,
    retry_attempt        INTEGER NOT NULL DEFAULT 0 CHECK (retry_attempt >= 0),
    qr_expires_at        INTEGER,
    banned_until         INTEGER,
    created_at           INTEGER NOT NULL
) STRICT;

-- The timeline of each agent (O-2), appended in the same transaction as the
-- agent row it explains (P-1).
CREATE TABLE history (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    code        INTEGER,
    reason      TEXT    NOT NULL,
    "trigger"   TEXT    NOT NULL,
    rule        TEXT    NOT NULL
) STRICT;

CREATE INDEX history_by_agent ON history (agent_id, id);

-- Every setting of SPEC's table, by key; absent keys take their default.
CREATE TABLE settings (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
