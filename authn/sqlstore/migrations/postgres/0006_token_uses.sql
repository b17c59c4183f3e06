-- Single-use JWTs (an issuer with require_jti): the first use of a token ID
-- is recorded here, keyed by SHA-256 of the issuer and the jti, until the
-- token expires; a second use while the record lives is a replay. Servers
-- sharing this database refuse the replay whichever of them sees it.
-- Expired records are deleted by PurgeExpired.

CREATE TABLE token_uses (
    token_key       BYTEA   PRIMARY KEY,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX token_uses_expires ON token_uses (expires_at);
