-- Principals and hashed credentials. Times are Unix nanoseconds; NULL
-- expiry means never. No column ever holds a plaintext secret: tokens are
-- stored as HMAC-SHA-256 under a versioned pepper, passwords and PINs as
-- argon2id PHC strings.

CREATE TABLE principals (
    id              TEXT    PRIMARY KEY,
    kind            INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    email           TEXT    UNIQUE,
    roles           INTEGER NOT NULL,
    password_hash   TEXT,
    method          INTEGER NOT NULL,
    cert_sha256     BLOB    UNIQUE,
    public_keys     BLOB,
    epoch           INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT    PRIMARY KEY,
    principal_id    TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role            INTEGER NOT NULL,
    token_hash      BLOB    NOT NULL UNIQUE,
    pepper_version  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER
);
CREATE INDEX api_keys_principal ON api_keys (principal_id);

CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,
    token_hash      BLOB    NOT NULL UNIQUE,
    pepper_version  INTEGER NOT NULL,
    principal_id    TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    principal_kind  INTEGER NOT NULL,
    roles           INTEGER NOT NULL,
    method          INTEGER NOT NULL,
    cert_sha256     BLOB,
    epoch           INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX sessions_principal ON sessions (principal_id);

CREATE TABLE pins (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL UNIQUE,
    pin_hash        TEXT    NOT NULL,
    issued_by       TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE user_secrets (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    token_hash      BLOB    NOT NULL UNIQUE,
    pepper_version  INTEGER NOT NULL,
    fingerprint     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    valid_until     INTEGER
);

CREATE TABLE registration_tokens (
    id              TEXT    PRIMARY KEY,
    token_hash      BLOB    NOT NULL UNIQUE,
    pepper_version  INTEGER NOT NULL,
    roles           INTEGER NOT NULL,
    uses_left       INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE TABLE client_backups (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    blob            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL
);
