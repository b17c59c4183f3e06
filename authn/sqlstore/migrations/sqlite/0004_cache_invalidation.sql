-- The lookup cache of every process sharing this file (sqlstore's
-- cache.go) hears of each change to what it caches. SQLite has no
-- notifications, so triggers append the change here and each process
-- polls for new rows: a session that changes or goes by its token hash,
-- anything else as '*' (drop all). Writers are serialised, so seq follows
-- commit order. Rows older than an hour are pruned.
CREATE TABLE cache_invalidations (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    payload TEXT    NOT NULL
);
CREATE INDEX cache_invalidations_at ON cache_invalidations (at);

CREATE TRIGGER sessions_cache_update AFTER UPDATE ON sessions BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), 's' || lower(hex(OLD.token_hash)));
END;
CREATE TRIGGER sessions_cache_delete AFTER DELETE ON sessions BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), 's' || lower(hex(OLD.token_hash)));
END;
CREATE TRIGGER api_keys_cache_update AFTER UPDATE ON api_keys BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER api_keys_cache_delete AFTER DELETE ON api_keys BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER principals_cache_update AFTER UPDATE ON principals BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER principals_cache_delete AFTER DELETE ON principals BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;

-- KeyAccess answers come from group_members and key_owners: any change
-- there, an insert included (a key assigned to a group leaves the default
-- group), drops them all.
CREATE TRIGGER group_members_cache_insert AFTER INSERT ON group_members BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER group_members_cache_update AFTER UPDATE ON group_members BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER group_members_cache_delete AFTER DELETE ON group_members BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER key_owners_cache_insert AFTER INSERT ON key_owners BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER key_owners_cache_update AFTER UPDATE ON key_owners BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
CREATE TRIGGER key_owners_cache_delete AFTER DELETE ON key_owners BEGIN
    INSERT INTO cache_invalidations (at, payload) VALUES (unixepoch(), '*');
END;
