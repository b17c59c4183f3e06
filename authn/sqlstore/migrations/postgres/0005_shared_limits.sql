-- The rate limiter's failure counts when they are shared by every process
-- on this database (authn.RateLimitConfig.Shared): one row per count, named
-- by its table and the SHA-256 of its key (no address, typed e-mail or
-- token is stored). score is the failures, decayed to updated_at; a count
-- is blocked until blocked_until. Times are Unix nanoseconds.
CREATE TABLE auth_failures (
    tbl             TEXT             NOT NULL,
    subject         TEXT             NOT NULL,
    score           DOUBLE PRECISION NOT NULL,
    updated_at      BIGINT           NOT NULL,
    blocked_until   BIGINT           NOT NULL,
    PRIMARY KEY (tbl, subject)
);
CREATE INDEX auth_failures_updated ON auth_failures (updated_at);
