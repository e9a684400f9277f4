package sqlstore

import "context"

// For the external tests: the purge's statements, as the store runs them.

// PurgeStatements returns each purge DELETE with its arguments for now
// (unix microseconds) and a batch size, in the dialect of s.
func (s *Store) PurgeStatements(now int64, limit int) (tables, queries []string, args [][]any) {
	for _, p := range purges {
		tables = append(tables, p.table)
		queries = append(queries, s.d.purgeQuery(p.table, p.where))
		args = append(args, purgeArgs(p.table, now, limit))
	}
	return tables, queries, args
}

// OpenAt opens dsn migrated only up to version: the database an older
// tollgate left, for migration tests.
func OpenAt(ctx context.Context, dsn string, version int) (*Store, error) {
	return open(ctx, dsn, Options{}, version)
}
