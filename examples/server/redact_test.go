//go:build unix

package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestStartupLineRedacts: no form of a database password reaches the
// startup line, nor the error that refuses a storage spec. The PostgreSQL
// forms start a real server (the test database trusts its clients, so the
// passwords are ignored by it); the others are refused before connecting.
func TestStartupLineRedacts(t *testing.T) {
	t.Parallel()
	const pw, pw2 = "Sup3rSecretPw", "An0therSecret"
	u, err := url.Parse(postgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	withUser := *u
	withUser.User = url.UserPassword(u.User.Username(), pw)
	withParam := *u
	withParam.RawQuery += "&password=" + pw2
	withBoth := withUser
	withBoth.RawQuery += "&password=" + pw2

	for _, tc := range []struct {
		name, spec string
		starts     bool
		want       string // in the startup line or the error
	}{
		{"userinfo password", withUser.String(), true, u.User.Username() + ":***@"},
		{"?password=", withParam.String(), true, "password=***"},
		{"both", withBoth.String(), true, "password=***"},
		{"key=value DSN", "host=127.0.0.1 user=tollgate password=" + pw + " dbname=tollgate", false, "password=***"},
		{"quoted key=value", "host=127.0.0.1 password='" + pw + " " + pw2 + "' dbname=tollgate", false, "password=***"},
		{"unknown scheme", "mysql://tollgate:" + pw + "@127.0.0.1/tollgate?password=" + pw2, false, "tollgate:***@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"-storage", tc.spec, "-listen", "127.0.0.1:0", "-" + allowUnsealedFlag,
				"-config", keysConfig(t)}
			var shown string
			if tc.starts {
				var log syncBuilder
				s := startLogged(t, nil, &log, args...)
				if err := s.stop(); err != nil {
					t.Fatal(err)
				}
				shown = s.stdout + log.String()
			} else {
				shown = runFails(t, 10*time.Second, args...).Error()
			}
			if strings.Contains(shown, pw) || strings.Contains(shown, pw2) {
				t.Errorf("a password is shown:\n%s", shown)
			}
			if !strings.Contains(shown, tc.want) {
				t.Errorf("%q not shown (the rest of the spec should stay readable):\n%s", tc.want, shown)
			}
		})
	}
}
