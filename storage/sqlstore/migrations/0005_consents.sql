-- tollgate schema, version 3 (issue 9 §2): remembered consents, and the
-- columns that find a user's grants to a client, so that revoking a
-- consent revokes what it issued (RevokeFamiliesOf) with an index lookup
-- rather than a scan of every grant's JSON.

-- subject and client_id copy the grant's (grant_data is storage.Grant as
-- JSON, field names as in Go). They are '' for a family revoked before it
-- was created, until CreateFamily fills the row in.
ALTER TABLE tollgate_families ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE tollgate_families ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE tollgate_families SET subject = COALESCE({{JSON grant_data Subject}}, ''),
    client_id = COALESCE({{JSON grant_data ClientID}}, '') WHERE grant_data <> '';
CREATE INDEX tollgate_families_subject_client ON tollgate_families (subject, client_id);

ALTER TABLE tollgate_codes ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE tollgate_codes ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE tollgate_codes SET subject = COALESCE({{JSON grant_data Subject}}, ''),
    client_id = COALESCE({{JSON grant_data ClientID}}, '');
CREATE INDEX tollgate_codes_subject_client ON tollgate_codes (subject, client_id);

-- One row per user and client. scopes and audience are JSON arrays:
-- nothing queries inside them. granted_at is unix microseconds.
CREATE TABLE tollgate_consents (
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    audience   TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);
