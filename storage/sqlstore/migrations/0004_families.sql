-- tollgate schema, version 2 (issues 14 and 9): one row per grant family
-- instead of one per refresh token and one per access token, and the
-- revocation feed. {{FILLFACTOR}} and {{EPOCH}} are filled per dialect
-- (dialect.go). Times are unix microseconds.
--
-- What version 1 issued keeps working: each family is created from its
-- refresh tokens at generation 0 ("the live token is a legacy one"); the
-- version-1 tokens move to the narrow legacy tables at the end, which
-- only shrink (the purge deletes them as they expire).

-- id is the grant id. grant_data is '' for a family revoked before it was
-- created (a replayed code racing its redemption): the primary key makes
-- the two writers meet. purge_after is the later of the two expiries
-- rounded up to the hour: it changes at most hourly, so a rotation does
-- not touch the index and PostgreSQL updates the row in place (HOT).
CREATE TABLE tollgate_families (
    id                TEXT PRIMARY KEY,
    grant_data        TEXT NOT NULL,
    generation        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    access_expires_at BIGINT NOT NULL,
    revoked           BOOLEAN NOT NULL,
    purge_after       BIGINT NOT NULL
){{FILLFACTOR}};
CREATE INDEX tollgate_families_purge_after ON tollgate_families (purge_after);

-- The feed: kind is 'jti' or 'grant'. seq is the entry's place; a later
-- expiry moves the entry to a new seq.
CREATE TABLE tollgate_revocations (
    seq        BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tollgate_revocations_kind_id ON tollgate_revocations (kind, id);
CREATE INDEX tollgate_revocations_expires_at ON tollgate_revocations (expires_at);

-- One row: the feed's epoch and the last seq handed out. Writers update
-- it first in their transaction, which serialises them: seqs become
-- visible in order (see revocations.go).
CREATE TABLE tollgate_revocation_feed (
    id       INTEGER PRIMARY KEY,
    epoch    TEXT NOT NULL,
    last_seq BIGINT NOT NULL
);

-- Families from version-1 refresh tokens: the grant of the live token (or
-- of the latest, if the family has none live), its expiry, the latest
-- expiry of the family's access tokens, revoked or not.
INSERT INTO tollgate_families (id, grant_data, generation, expires_at, access_expires_at, revoked, purge_after)
SELECT r.family, r.grant_data, 0, r.expires_at,
    COALESCE((SELECT MAX(i.expires_at) FROM tollgate_issued_tokens i WHERE i.family = r.family), 0),
    EXISTS (SELECT 1 FROM tollgate_revoked_families f WHERE f.family = r.family),
    0
FROM tollgate_refresh_tokens r
WHERE r.signature = (SELECT r2.signature FROM tollgate_refresh_tokens r2 WHERE r2.family = r.family
    ORDER BY r2.active DESC, r2.expires_at DESC, r2.signature LIMIT 1);

UPDATE tollgate_families SET purge_after =
    ((CASE WHEN expires_at > access_expires_at THEN expires_at ELSE access_expires_at END) + 3599999999) / 3600000000 * 3600000000;

-- The feed from version-1 revocations: revoked jtis; the jtis of revoked
-- families (version-1 access tokens carry no grant_id, so only their jti
-- can reach a resource server); and the families, each until the later of
-- its until and its latest access expiry.
INSERT INTO tollgate_revocations (seq, kind, id, expires_at)
SELECT ROW_NUMBER() OVER (ORDER BY e.expires_at, e.kind, e.id), e.kind, e.id, e.expires_at FROM (
    SELECT 'jti' AS kind, t.jti AS id, t.until AS expires_at FROM tollgate_revoked_tokens t
    UNION ALL
    SELECT 'jti', i.jti, i.expires_at FROM tollgate_issued_tokens i
        WHERE EXISTS (SELECT 1 FROM tollgate_revoked_families f WHERE f.family = i.family)
        AND NOT EXISTS (SELECT 1 FROM tollgate_revoked_tokens t WHERE t.jti = i.jti)
    UNION ALL
    SELECT 'grant', f.family,
        CASE WHEN COALESCE((SELECT MAX(i.expires_at) FROM tollgate_issued_tokens i WHERE i.family = f.family), 0) > f.until
            THEN (SELECT MAX(i.expires_at) FROM tollgate_issued_tokens i WHERE i.family = f.family)
            ELSE f.until END
    FROM tollgate_revoked_families f
) e;

INSERT INTO tollgate_revocation_feed (id, epoch, last_seq)
SELECT 1, '{{EPOCH}}', COALESCE(MAX(seq), 0) FROM tollgate_revocations;

-- Version-1 refresh tokens, by the SHA-256 of the token: the family and
-- whether the token was the live one. It is honoured once, while its
-- family is still at generation 0; any other is a replay.
CREATE TABLE tollgate_legacy_refresh_tokens (
    signature  TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tollgate_legacy_refresh_tokens_expires_at ON tollgate_legacy_refresh_tokens (expires_at);
INSERT INTO tollgate_legacy_refresh_tokens (signature, family, active, expires_at)
SELECT signature, family, active, expires_at FROM tollgate_refresh_tokens;

-- Version-1 access tokens of each family: revoking the family later also
-- revokes them by jti.
CREATE TABLE tollgate_legacy_access_tokens (
    jti        TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tollgate_legacy_access_tokens_expires_at ON tollgate_legacy_access_tokens (expires_at);
CREATE INDEX tollgate_legacy_access_tokens_family ON tollgate_legacy_access_tokens (family);
INSERT INTO tollgate_legacy_access_tokens (jti, family, expires_at)
SELECT jti, family, expires_at FROM tollgate_issued_tokens;

DROP TABLE tollgate_refresh_tokens;
DROP TABLE tollgate_issued_tokens;
DROP TABLE tollgate_revoked_tokens;
DROP TABLE tollgate_revoked_families;
