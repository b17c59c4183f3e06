-- A session made from an API key records the key (api_key_id): revoking
-- the key deletes the session with it (ON DELETE CASCADE), and a lookup
-- reads the key's expiry with the session, so that rotating a key away or
-- letting it expire ends the sessions made from it on their next request.
-- Sessions made from API keys before this migration cannot be traced to
-- their key; they end here (their holders log in again).

ALTER TABLE sessions ADD COLUMN api_key_id TEXT REFERENCES api_keys (id) ON DELETE CASCADE;
CREATE INDEX sessions_api_key ON sessions (api_key_id);
DELETE FROM sessions WHERE method = 2;
