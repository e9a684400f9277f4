-- tollgate schema, version 1. {{BYTES}} is BLOB on SQLite, BYTEA on PostgreSQL.
-- Times are unix microseconds; durations nanoseconds; lists JSON arrays.

CREATE TABLE tollgate_clients (
    id                TEXT PRIMARY KEY,
    secret_hash       TEXT NOT NULL,
    public            BOOLEAN NOT NULL,
    require_scope     BOOLEAN NOT NULL,
    grant_types       TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    default_scopes    TEXT NOT NULL,
    audiences         TEXT NOT NULL,
    redirect_uris     TEXT NOT NULL,
    access_token_ttl  BIGINT NOT NULL,
    refresh_token_ttl BIGINT NOT NULL
);

CREATE TABLE tollgate_codes (
    signature  TEXT PRIMARY KEY,
    grant_data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL
);
CREATE INDEX tollgate_codes_expires_at ON tollgate_codes (expires_at);

CREATE TABLE tollgate_refresh_tokens (
    signature       TEXT PRIMARY KEY,
    family          TEXT NOT NULL,
    grant_data      TEXT NOT NULL,
    access_token_id TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    active          BOOLEAN NOT NULL
);
CREATE INDEX tollgate_refresh_tokens_expires_at ON tollgate_refresh_tokens (expires_at);

CREATE TABLE tollgate_revoked_tokens (
    jti   TEXT PRIMARY KEY,
    until BIGINT NOT NULL
);
CREATE INDEX tollgate_revoked_tokens_until ON tollgate_revoked_tokens (until);

CREATE TABLE tollgate_revoked_families (
    family TEXT PRIMARY KEY,
    until  BIGINT NOT NULL
);
CREATE INDEX tollgate_revoked_families_until ON tollgate_revoked_families (until);

CREATE TABLE tollgate_issued_tokens (
    jti        TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tollgate_issued_tokens_expires_at ON tollgate_issued_tokens (expires_at);

CREATE TABLE tollgate_signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key {{BYTES}} NOT NULL,
    created_at  BIGINT NOT NULL
);
