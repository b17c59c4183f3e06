-- The lookup cache of every process sharing this schema (sqlstore's
-- cache.go) hears of each change to what it caches: a session that
-- changes or goes by its token hash, anything else as '*' (drop all), on
-- channel 'cpauthn_' || md5(schema). NOTIFY is delivered at commit, in
-- commit order, whoever made the change.
-- Row-level triggers, so that a statement that changes nothing says
-- nothing; PostgreSQL sends one '*' per transaction however many rows
-- change, since it folds identical notifications.
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
CREATE TRIGGER api_keys_cache AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER api_keys_cache_truncate AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER principals_cache AFTER UPDATE OR DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER principals_cache_truncate AFTER TRUNCATE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
-- KeyAccess answers come from group_members and key_owners: any change
-- there, an insert included (a key assigned to a group leaves the default
-- group), drops them all. access_groups rows go only with their members.
CREATE TRIGGER group_members_cache AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH ROW EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER group_members_cache_truncate AFTER TRUNCATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER key_owners_cache AFTER INSERT OR UPDATE OR DELETE ON key_owners
    FOR EACH ROW EXECUTE FUNCTION authn_cache_notify();
CREATE TRIGGER key_owners_cache_truncate AFTER TRUNCATE ON key_owners
    FOR EACH STATEMENT EXECUTE FUNCTION authn_cache_notify();
