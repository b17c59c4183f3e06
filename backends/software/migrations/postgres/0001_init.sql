-- The PostgreSQL key store: the store's identity (one row) and one row per
-- key. Key material is only ever stored age-encrypted to the identity,
-- exactly as the directory store's key files are; the identity is
-- encrypted with the keystore passphrase (scrypt). Label and ID are in the
-- clear so that the database keeps them unique across every instance.

CREATE TABLE software_keystore (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    identity    BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE software_keys (
    id          BYTEA   PRIMARY KEY CHECK (octet_length(id) BETWEEN 1 AND 64),
    label       TEXT    NOT NULL UNIQUE CHECK (octet_length(label) BETWEEN 1 AND 255),
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Every instance keeps the keys it decrypted in memory. A row that changes
-- or goes tells every instance, on channel 'cpkeys_' || md5(schema), with
-- the key's hex ID as payload ('*' after a TRUNCATE): NOTIFY is delivered
-- at commit, in commit order, whoever made the change.
CREATE FUNCTION software_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('cpkeys_' || md5(TG_TABLE_SCHEMA::text), '*');
    ELSE
        PERFORM pg_notify('cpkeys_' || md5(TG_TABLE_SCHEMA::text), encode(OLD.id, 'hex'));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER software_keys_changed AFTER UPDATE OR DELETE ON software_keys
    FOR EACH ROW EXECUTE FUNCTION software_keys_notify();
CREATE TRIGGER software_keys_truncated AFTER TRUNCATE ON software_keys
    FOR EACH STATEMENT EXECUTE FUNCTION software_keys_notify();
