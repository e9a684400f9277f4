// Package issuer holds the rule by which tollgate reads an issuer
// identifier, on the token server and in the middleware alike: an
// absolute http(s) URL with no query, fragment or user info (RFC 8414
// §2). The token server writes its issuer without a trailing slash
// (Canonical); the middleware compares a token's iss with its configured
// issuer exactly, as RFC 9068 §4 requires, and says so when the two differ
// by the slash alone (Mismatch).
package issuer

import (
	"fmt"
	"net/url"
	"strings"
)

// Check refuses what cannot be an issuer identifier, suggesting the fix
// for a missing scheme.
func Check(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("is required")
	case err != nil || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		if !strings.Contains(s, "://") {
			return fmt.Errorf("%q is not an absolute URL; did you mean %q?", s, "https://"+s)
		}
		return fmt.Errorf("%q must be an absolute http(s) URL", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") || u.User != nil:
		return fmt.Errorf("%q must have no query, fragment or user info", s)
	}
	return nil
}

// Canonical is the form in which the token server writes its issuer (in
// iss, in its metadata, as the base of its endpoint URLs): without a
// trailing slash.
func Canonical(s string) string { return strings.TrimSuffix(s, "/") }

// Mismatch explains a token's iss that differs from the expected issuer,
// for the host's log (never for the client): both values, and the likely
// cause when they differ by a trailing slash only.
func Mismatch(got, want string) string {
	msg := fmt.Sprintf("iss %q, this API expects %q", got, want)
	if Canonical(got) == Canonical(want) {
		msg += "; they differ only by a trailing slash (tollgate writes its issuer without one): set the API's issuer to " +
			fmt.Sprintf("%q", got)
	}
	return msg
}
