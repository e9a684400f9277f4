package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// storageForms are the storage specs the demo takes, for errors to show.
const storageForms = "memory, sqlite:PATH, sqlite:///ABSOLUTE/PATH, postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=…"

// checkStorage checks a storage spec's form before anything is opened:
// memory, or a name sqlstore accepts (sqlstore.CheckDSN). The error shows
// the spec with its passwords hidden, what is wrong, and the forms taken;
// never a driver's words.
func checkStorage(spec string) error {
	if spec == "" || spec == "memory" {
		return nil
	}
	if s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(spec)), ":"); s == "memory" || s == "mem" || s == "in-memory" || s == "inmemory" {
		return fmt.Errorf("%q: did you mean memory? (accepted: %s)", redactStorage(spec), storageForms)
	}
	return storageError(sqlstore.CheckDSN(spec))
}

// storageError says a sqlstore.DSNError in the demo's terms, memory among
// the forms; other errors (a database that does not answer) stay as they
// are.
func storageError(err error) error {
	if de, ok := errors.AsType[*sqlstore.DSNError](err); ok {
		return fmt.Errorf("%q: %s (accepted: %s)", de.DSN, de.Problem, storageForms)
	}
	return err
}
