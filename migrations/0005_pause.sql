-- Staff can pause every automatic reconnect (issue 15's tray, F-2): an
-- outage of their own that lasts, across restarts, until they resume.
ALTER TABLE outages ADD COLUMN paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1));
