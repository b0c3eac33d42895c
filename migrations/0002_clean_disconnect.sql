-- Schema version 2: who reached `disconnected`. Only a person's disconnect,
-- a QR expiry and a new agent make it clean, and only a clean disconnect
-- lets Connect bypass the cooldowns (A-2); an error that ends in
-- `disconnected` (a pairing that failed before any QR) keeps them.
ALTER TABLE agents ADD COLUMN clean_disconnect INTEGER NOT NULL DEFAULT 0 CHECK (clean_disconnect IN (0, 1));

-- Rows written before: an error's `disconnected` always recorded its close
-- code; a clean one never did.
UPDATE agents SET clean_disconnect = 1 WHERE status = 'disconnected' AND last_code IS NULL;
