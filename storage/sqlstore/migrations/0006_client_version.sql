-- tollgate schema, version 6 (issue 10): a change counter for the clients,
-- so that a server can keep the clients it read in memory and still see,
-- within a second, a change made by another instance, the admin CLI or by
-- hand (storage.ClientChanges). Triggers bump it in the transaction of the
-- change itself, whoever writes: no writer can forget it. A statement
-- marked {{SQLITE}} or {{POSTGRES}} runs on that engine only.
--
-- Files may be applied out of order (migrate.go applies every missing
-- version): this one depends on tollgate_clients alone.

CREATE TABLE tollgate_clients_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO tollgate_clients_version (id, version) VALUES (1, 0);

-- SQLite has row triggers only; DELETE without WHERE still fires them (the
-- truncate optimisation is off while a trigger exists).
{{SQLITE}} CREATE TRIGGER tollgate_clients_inserted AFTER INSERT ON tollgate_clients BEGIN UPDATE tollgate_clients_version SET version = version + 1 WHERE id = 1; END;
{{SQLITE}} CREATE TRIGGER tollgate_clients_updated AFTER UPDATE ON tollgate_clients BEGIN UPDATE tollgate_clients_version SET version = version + 1 WHERE id = 1; END;
{{SQLITE}} CREATE TRIGGER tollgate_clients_deleted AFTER DELETE ON tollgate_clients BEGIN UPDATE tollgate_clients_version SET version = version + 1 WHERE id = 1; END;

-- PostgreSQL: one bump per statement, TRUNCATE included. The function's
-- search_path is the migration's, so a writer whose search_path differs
-- (an admin in psql) still bumps this schema's counter.
{{POSTGRES}} CREATE FUNCTION tollgate_clients_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN UPDATE tollgate_clients_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$;
{{POSTGRES}} CREATE TRIGGER tollgate_clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tollgate_clients FOR EACH STATEMENT EXECUTE FUNCTION tollgate_clients_changed();
