//go:build race

package sqlstore_test

// raceEnabled: the race detector slows modernc's SQLite about thirtyfold;
// the big-purge test then purges fewer rows.
const raceEnabled = true
