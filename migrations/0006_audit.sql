-- Schema version 6: the audit log (B-3).
--
-- One row per operator action: who (the operating-system user the app runs
-- as), when, what, and its outcome in plain words. The agents an action
-- touched are rows of `audit_agents`, with their name at the time (a
-- removed agent's entries still name it) and, for a bulk action, what
-- became of each. Pruned with the history (H-5).
CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    os_user  TEXT    NOT NULL,
    -- One of the names of `AuditAction::as_str` ("connect", "bulk_remove", "settings" …).
    action   TEXT    NOT NULL,
    -- What came of it, in plain words ("41 connecting, 3 blocked by a cooldown").
    outcome  TEXT    NOT NULL,
    -- What it changed, where the agents and the outcome do not say it
    -- ("start_rate_per_s 20 → 10"); empty otherwise.
    detail   TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE audit_agents (
    entry    INTEGER NOT NULL REFERENCES audit (id) ON DELETE CASCADE,
    agent    INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    -- This agent's part of a bulk action's outcome; empty for a single action.
    outcome  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (entry, agent)
) STRICT;

-- The audit view filters by agent.
CREATE INDEX audit_agents_by_agent ON audit_agents (agent, entry);
