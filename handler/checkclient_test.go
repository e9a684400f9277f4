package handler_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
)

// TestCheckClient: a registration is checked against what this server
// supports, so a typo or an unregistered extension grant is refused when
// the client is stored, not at its first token request.
func TestCheckClient(t *testing.T) {
	t.Parallel()
	const ext = "urn:example:params:oauth:grant-type:partner"
	exchange := func(context.Context, handler.GrantRequest) (*handler.GrantResult, error) {
		return nil, errors.New("unused")
	}
	plain := func(*handler.Config) {}
	withGrant := func(c *handler.Config) { c.Grants = []handler.Grant{{Type: ext, Exchange: exchange}} }
	withLogin := func(c *handler.Config) {
		c.Login = func(http.ResponseWriter, *http.Request) (string, bool) { return "", false }
	}
	for _, c := range []struct {
		name   string
		config func(*handler.Config)
		grants []string
		want   string // "" accepted
	}{
		{"client_credentials", plain, []string{"client_credentials"}, ""},
		{"typo", plain, []string{"client_credentails"}, `did you mean "client_credentials"`},
		{"unregistered extension", plain, []string{ext}, "an extension grant must be registered first"},
		{"registered extension", withGrant, []string{ext}, ""},
		{"near a registered extension", withGrant, []string{ext + "s"}, `did you mean "` + ext + `"`},
		{"code without Login", plain, []string{"authorization_code"}, `"authorization_code" is not enabled on this server`},
		{"code with Login", withLogin, []string{"authorization_code", "refresh_token"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, srv := newServer(t, c.config)
			cl := &storage.Client{ID: "new", Public: true, GrantTypes: c.grants, Audiences: []string{"https://api.test"},
				RedirectURIs: []string{"https://app.test/cb"}}
			err := srv.CheckClient(cl)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			case err != nil && !errors.Is(err, storage.ErrInvalid):
				t.Fatalf("%v is not storage.ErrInvalid", err)
			}
		})
	}
}
