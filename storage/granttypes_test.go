package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestGrantTypeChecks(t *testing.T) {
	t.Parallel()
	const ext = "urn:example:params:oauth:grant-type:partner"
	for _, c := range []struct {
		name      string
		grants    []string
		supported []string // nil: StandardGrantTypes
		validate  string   // "" valid; else a part of Validate's error
		check     string   // "" accepted by CheckGrantTypes(registered); else a part of its error
	}{
		{"standard", []string{"client_credentials", "authorization_code", "refresh_token"}, nil, "", ""},
		{"typo", []string{"client_credential"}, nil, `did you mean "client_credentials"`, ""},
		{"british spelling", []string{"authorisation_code"}, nil, `did you mean "authorization_code"`, ""},
		{"password", []string{"password"}, nil, "password grant is not supported", ""},
		{"implicit", []string{"implicit"}, nil, "implicit grant is not supported", ""},
		{"response type", []string{"code"}, nil, "response type", ""},
		{"registered extension", []string{ext}, []string{ext}, "", ""},
		{"standard, but not supported here", []string{"authorization_code"}, []string{"client_credentials", "refresh_token"}, "",
			"not enabled on this server"},
		{"unregistered extension", []string{ext}, nil, "", "an extension grant must be registered"},
		{"near a registered extension", []string{"client_authenticated_usr"}, []string{"client_credentials", "client_authenticated_user"}, "",
			`did you mean "client_authenticated_user"`},
		{"second of two is unknown", []string{"client_credentials", "jwt-bearer"}, nil, "", "grant_types[1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := &Client{ID: "c", Public: true, GrantTypes: c.grants, Audiences: []string{"https://api.test"},
				RedirectURIs: []string{"https://app.test/cb"}}
			err := cl.Validate()
			if !match(err, c.validate) {
				t.Fatalf("Validate: %v, want %q", err, c.validate)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Validate's error %v is not ErrInvalid", err)
				}
				return
			}
			supported := c.supported
			if supported == nil {
				supported = StandardGrantTypes
			}
			if err := cl.CheckGrantTypes(supported); !match(err, c.check) {
				t.Fatalf("CheckGrantTypes: %v, want %q", err, c.check)
			} else if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("CheckGrantTypes's error %v is not ErrInvalid", err)
			}
		})
	}
}

func match(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"abc", "abd", 1}, {"abc", "ab", 1},
		{"client_credential", "client_credentials", 1}, {"kitten", "sitting", 3},
	} {
		if got := editDistance(c.a, c.b, 10); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if got := editDistance("aaaaaaaa", "bbbbbbbb", 3); got < 3 {
		t.Errorf("a distance past the limit reads %d, want >= 3", got)
	}
}
