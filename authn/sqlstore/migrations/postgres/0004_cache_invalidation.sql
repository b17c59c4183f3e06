-- The lookup cache of every process sharing this schema (sqlstore's
-- cache.go) hears of each change to what it caches: a session that
-- changes or goes by its token hash, anything else as '*' (drop all), on
-- channel 'cpauthn_' || md5(schema). NOTIFY is delivered at commit, in
-- commit order, whoever made the change.
CREATE FUNCTION authn_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sessions' AND TG_LEVEL = 'ROW' THEN
        PERFORM pg_notify('cpauthn_' || md5(TG_TABLE_SCHEMA::text), 's' || encode(OLD.token_hash, 'hex'));
    ELSE
        PERFORM pg_notify('cpauthn_' || md5(TG_TABLE_SCHEMA::text), '*');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_cache AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER sessions_cache_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER api_keys_cache AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER principals_cache AFTER UPDATE OR DELETE OR TRUNCATE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
