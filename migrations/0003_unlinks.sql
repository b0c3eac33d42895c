-- Schema version 3: unlink jobs (D-1). A disconnect or removal of an agent
-- whose credentials have no live link to log out with sets them aside and
-- records a job here, in the same transaction as the agent's change: it
-- connects with them, logs the device out of the phone and deletes them,
-- retried with backoff while WhatsApp cannot be reached, across restarts.
CREATE TABLE unlinks (
    -- AUTOINCREMENT: a job's number names where its credentials are set
    -- aside, so it is never reused.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- No foreign key: the job outlives a removed agent.
    agent_id   INTEGER NOT NULL,
    -- The agent's name when the job began, for logs after a removal.
    agent_name TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- Failed tries so far, and when the next one is due.
    attempt    INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    next_at    INTEGER NOT NULL,
    last_error TEXT
) STRICT;
