-- tollgate schema, version 7 (issue 11 §5): signing-key rotation.
-- active_from is when a key starts signing, retired_at when it left the
-- JWKS; unix microseconds, 0 for unset. Keys stored before sign from when
-- they were stored and stay published, as they did.

ALTER TABLE tollgate_signing_keys ADD COLUMN active_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tollgate_signing_keys ADD COLUMN retired_at BIGINT NOT NULL DEFAULT 0;
