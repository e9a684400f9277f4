package handler_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// configFields are the Fields of every *handler.ConfigError in err, in
// order: New joins them.
func configFields(err error) []string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, configFields(e)...)
		}
		return out
	}
	if ce, ok := errors.AsType[*handler.ConfigError](err); ok {
		return []string{ce.Field}
	}
	return nil
}

// TestConfigErrorFields: each problem New finds is a *ConfigError naming
// the field, so a host can name its own setting (the demo server's YAML
// key) from Field and Err instead of rewording the message.
func TestConfigErrorFields(t *testing.T) {
	t.Parallel()
	store := testClients(t)
	for _, tc := range []struct {
		name   string
		cfg    handler.Config
		fields []string
		errs   []string // Err of each, in order
	}{
		{"issuer without a scheme", handler.Config{Issuer: "localhost:8080", Clients: store}, []string{"Issuer"},
			[]string{`"localhost:8080" is not an absolute URL; did you mean "https://localhost:8080"?`}},
		{"several", handler.Config{
			RateLimits: handler.RateLimits{Token: "fast"}, Keys: []handler.SigningKey{{ID: "k1", Algorithm: "HS512"}},
			AccessTokenTTL: -time.Second, KeyEncryptionKey: []byte("short"),
		}, []string{"Issuer", "Clients", "AccessTokenTTL", "KeyEncryptionKey", "RateLimits.Token", "Keys[0].Algorithm"},
			[]string{"is required", "is required", "must not be negative", "is 5 bytes; want 32 (AES-256)", "", `"HS512": want RS256, ES256 or EdDSA`}},
		{"rotation", handler.Config{Issuer: "https://as.example", Clients: store, KeyRotation: handler.KeyRotation{Every: time.Hour, PublishAhead: 2 * time.Hour}},
			[]string{"KeyRotation.Every"}, []string{"1h0m0s must be longer than KeyRotation.PublishAhead (2h0m0s): a key must sign for a while before the next is published"}},
		{"grants", handler.Config{Issuer: "https://as.example", Clients: store, Grants: []handler.Grant{{Type: "x y"}, {Type: "urn:x"}}},
			[]string{"Grants[0].Type", "Grants[1].Exchange"}, []string{`"x y" is not a grant type name`, "is required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := handler.New(tc.cfg)
			if got := configFields(err); !slices.Equal(got, tc.fields) {
				t.Errorf("fields %q, want %q; error:\n%v", got, tc.fields, err)
			}
			for i, line := range strings.Split(fmt.Sprint(err), "\n") {
				if i < len(tc.errs) && !strings.HasSuffix(line, ": "+tc.errs[i]) && tc.errs[i] != "" {
					t.Errorf("line %d %q, want it to end with %q", i, line, tc.errs[i])
				}
			}
		})
	}
}

func TestCheckIssuer(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"https://as.example", "https://as.example/", "http://127.0.0.1:8080", "https://as.example/tenant"} {
		if err := handler.CheckIssuer(ok); err != nil {
			t.Errorf("CheckIssuer(%q) = %v", ok, err)
		}
		if _, err := handler.New(handler.Config{Issuer: ok, Clients: testClients(t)}); err != nil {
			t.Errorf("CheckIssuer accepts %q, New does not: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "localhost:8080", "ftp://as.example", "https://as.example?x=1", "https://u:p@as.example"} {
		err := handler.CheckIssuer(bad)
		ce, ok := errors.AsType[*handler.ConfigError](err)
		if !ok || ce.Field != "Issuer" {
			t.Errorf("CheckIssuer(%q) = %v, want a ConfigError for Issuer", bad, err)
			continue
		}
		_, newErr := handler.New(handler.Config{Issuer: bad, Clients: testClients(t)})
		if newErr == nil || newErr.Error() != err.Error() {
			t.Errorf("CheckIssuer(%q) = %v, New says %v", bad, err, newErr)
		}
	}
}
