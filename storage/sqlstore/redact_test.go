package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// TestRedactDSN: every form a password takes in a DSN is hidden; the rest
// of the DSN, which says which database it is, stays readable.
func TestRedactDSN(t *testing.T) {
	t.Parallel()
	const pw = "Sup3rSecretPw"
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"userinfo", "postgres://tollgate:" + pw + "@db:5432/tollgate?sslmode=disable",
			"postgres://tollgate:***@db:5432/tollgate?sslmode=disable"},
		{"postgresql scheme", "postgresql://tollgate:" + pw + "@db/tollgate",
			"postgresql://tollgate:***@db/tollgate"},
		{"at sign in the password", "postgres://tollgate:" + pw + "@x@db/tollgate",
			"postgres://tollgate:***@db/tollgate"},
		{"percent-encoded password", "postgres://tollgate:" + pw + "%40x%3A@db/tollgate",
			"postgres://tollgate:***@db/tollgate"},
		{"query parameter", "postgres://tollgate@db/tollgate?sslmode=disable&password=" + pw,
			"postgres://tollgate@db/tollgate?sslmode=disable&password=***"},
		{"first query parameter", "postgres://db/tollgate?password=" + pw + "&user=tollgate",
			"postgres://db/tollgate?password=***&user=tollgate"},
		{"upper case parameter", "postgres://db/tollgate?PASSWORD=" + pw,
			"postgres://db/tollgate?PASSWORD=***"},
		{"sslpassword parameter", "postgres://db/tollgate?sslkey=k.pem&sslpassword=" + pw,
			"postgres://db/tollgate?sslkey=k.pem&sslpassword=***"},
		{"userinfo and parameter", "postgres://tollgate:" + pw + "@db/tollgate?password=" + pw,
			"postgres://tollgate:***@db/tollgate?password=***"},
		{"key=value", "host=db port=5432 user=tollgate password=" + pw + " dbname=tollgate",
			"host=db port=5432 user=tollgate password=*** dbname=tollgate"},
		{"key = value", "host=db password = " + pw + " dbname=tollgate",
			"host=db password = *** dbname=tollgate"},
		{"quoted value", "host=db password='" + pw + " with spaces' dbname=tollgate",
			"host=db password=*** dbname=tollgate"},
		{"quoted value, escaped quote", `host=db password='it\'s ` + pw + `' dbname=tollgate`,
			"host=db password=*** dbname=tollgate"},
		{"unterminated quote", "host=db password='" + pw + " dbname=tollgate",
			"host=db password=***"},
		{"no password", "postgres://tollgate@db/tollgate?sslmode=disable",
			"postgres://tollgate@db/tollgate?sslmode=disable"},
		{"sqlite", "sqlite:/var/lib/tollgate/tollgate.db", "sqlite:/var/lib/tollgate/tollgate.db"},
		{"memory", "memory", "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sqlstore.RedactDSN(tc.dsn)
			if got != tc.want {
				t.Errorf("RedactDSN(%q)\n = %q\nwant %q", tc.dsn, got, tc.want)
			}
			if strings.Contains(got, pw) {
				t.Errorf("RedactDSN(%q) keeps the password", tc.dsn)
			}
		})
	}
}

func ExampleRedactDSN() {
	fmt.Println(sqlstore.RedactDSN("postgres://tollgate:hunter2@db/tollgate?sslmode=require"))
	fmt.Println(sqlstore.RedactDSN("host=db user=tollgate password='hunter 2' dbname=tollgate"))
	// Output:
	// postgres://tollgate:***@db/tollgate?sslmode=require
	// host=db user=tollgate password=*** dbname=tollgate
}
