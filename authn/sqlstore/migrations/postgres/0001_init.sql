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
    cert_sha256     BYTEA   UNIQUE,
    public_keys     BYTEA,
    epoch           BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT    PRIMARY KEY,
    principal_id    TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role            INTEGER NOT NULL,
    token_hash      BYTEA   NOT NULL UNIQUE,
    pepper_version  BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT
);
CREATE INDEX api_keys_principal ON api_keys (principal_id);

CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,
    token_hash      BYTEA   NOT NULL UNIQUE,
    pepper_version  BIGINT  NOT NULL,
    principal_id    TEXT    NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    principal_kind  INTEGER NOT NULL,
    roles           INTEGER NOT NULL,
    method          INTEGER NOT NULL,
    cert_sha256     BYTEA,
    epoch           BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX sessions_principal ON sessions (principal_id);

CREATE TABLE pins (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL UNIQUE,
    pin_hash        TEXT    NOT NULL,
    issued_by       TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE user_secrets (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    token_hash      BYTEA   NOT NULL UNIQUE,
    pepper_version  BIGINT  NOT NULL,
    fingerprint     TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    valid_until     BIGINT
);

CREATE TABLE registration_tokens (
    id              TEXT    PRIMARY KEY,
    token_hash      BYTEA   NOT NULL UNIQUE,
    pepper_version  BIGINT  NOT NULL,
    roles           INTEGER NOT NULL,
    uses_left       INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);

CREATE TABLE client_backups (
    principal_id    TEXT    PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    blob            BYTEA   NOT NULL,
    created_at      BIGINT  NOT NULL
);
