-- tollgate schema, version 3: clients marked as introspectors may introspect
-- any token (storage.Client.Introspector). Existing clients are not.

ALTER TABLE tollgate_clients ADD COLUMN introspector BOOLEAN NOT NULL DEFAULT FALSE;
