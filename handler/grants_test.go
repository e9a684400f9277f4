package handler_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Extension grants (Config.Grants, RFC 6749 §4.5), with the networknt
// example's "customized flow for trusted clients": a trusted client names
// the user (user_id, user_type) and gets a token for them.

// afUserGrantDef is the client_authenticated_user grant. seen, if set,
// receives every request the grant decides on.
func afUserGrantDef(seen func(handler.GrantRequest)) handler.Grant {
	return handler.Grant{
		Type: afUserGrant,
		Exchange: func(_ context.Context, req handler.GrantRequest) (*handler.GrantResult, error) {
			if seen != nil {
				seen(req)
			}
			user := req.Params["user_id"]
			switch user {
			case "":
				return nil, handler.GrantError("invalid_request", "the user_id parameter is missing")
			case "locked":
				return nil, handler.GrantError("invalid_grant", "user 'locked' is disabled")
			case "explode":
				return nil, errors.New("user database postgres://app:hunter2@db.internal/users is down")
			case "nobody":
				return nil, nil
			case "greedy":
				return &handler.GrantResult{Subject: user, Scopes: []string{"orders:read", "admin"}}, nil
			}
			userType := req.Params["user_type"]
			if userType == "" {
				userType = "customer"
			}
			return &handler.GrantResult{
				Subject:      user,
				Claims:       map[string]any{"user_id": user, "user_type": userType, "version": "1.0"},
				RefreshToken: true,
			}, nil
		},
	}
}

// afGrantLog records the requests an extension grant saw.
type afGrantLog struct {
	mu   sync.Mutex
	reqs []handler.GrantRequest
}

func (l *afGrantLog) add(r handler.GrantRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

func (l *afGrantLog) all() []handler.GrantRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// afGrantServer has the grant and no Claims hook, so tokens carry the
// grant's own claims.
func afGrantServer(t testing.TB) (*afEnv, *afGrantLog) {
	t.Helper()
	seen := &afGrantLog{}
	env := afServer(t, func(_ *afEnv, c *handler.Config) {
		c.Claims = nil
		c.Grants = []handler.Grant{afUserGrantDef(seen.add)}
	})
	return env, seen
}

func TestExtensionGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client string
		form   url.Values
		// secretInBody sends the credentials with client_secret_post.
		secretInBody bool

		status     int
		code       string // error code; "" for success
		desc       string // exact error_description
		wantParams map[string]string
		wantScopes []string // what the grant saw
		wantSeen   bool     // whether the grant ran
		// success
		wantSub, wantUserType, wantScope string
		wantAud                          []string
		wantRefresh                      bool
	}{
		{
			name: "trusted client", client: afTrustedID, form: url.Values{"user_id": {"bob"}, "user_type": {"employee"}},
			status: 200, wantParams: map[string]string{"user_id": "bob", "user_type": "employee"}, wantSeen: true,
			wantSub: "bob", wantUserType: "employee", wantScope: "orders:read", wantAud: []string{apiAudience}, wantRefresh: true,
		},
		{
			name: "scope and audience requested", client: afTrustedID,
			form:   url.Values{"user_id": {"bob"}, "scope": {"orders:write"}, "audience": {qaAudience}},
			status: 200, wantParams: map[string]string{"user_id": "bob"}, wantScopes: []string{"orders:write"}, wantSeen: true,
			wantSub: "bob", wantUserType: "customer", wantScope: "orders:write", wantAud: []string{qaAudience}, wantRefresh: true,
		},
		{
			name: "client_secret_post: no credentials in Params", client: afTrustedID, secretInBody: true,
			form:   url.Values{"user_id": {"carol"}},
			status: 200, wantParams: map[string]string{"user_id": "carol"}, wantSeen: true,
			wantSub: "carol", wantUserType: "customer", wantScope: "orders:read", wantAud: []string{apiAudience}, wantRefresh: true,
		},
		{
			name: "client without refresh_token gets no refresh token", client: afTrustedNoRefreshID, form: url.Values{"user_id": {"bob"}},
			status: 200, wantParams: map[string]string{"user_id": "bob"}, wantSeen: true,
			wantSub: "bob", wantUserType: "customer", wantScope: "orders:read", wantAud: []string{apiAudience},
		},
		{
			name: "client that does not list the grant", client: afResourceID, form: url.Values{"user_id": {"bob"}},
			status: 400, code: "unauthorized_client", desc: "this client may not use grant_type 'client_authenticated_user'",
		},
		{
			name: "public client that does not list the grant", client: salesChannelID, form: url.Values{"user_id": {"bob"}},
			status: 400, code: "unauthorized_client", desc: "this client may not use grant_type 'client_authenticated_user'",
		},
		{
			name: "GrantError invalid_grant", client: afTrustedID, form: url.Values{"user_id": {"locked"}},
			status: 400, code: "invalid_grant", desc: "user 'locked' is disabled",
			wantParams: map[string]string{"user_id": "locked"}, wantSeen: true,
		},
		{
			name: "GrantError invalid_request", client: afTrustedID, form: url.Values{"user_type": {"employee"}},
			status: 400, code: "invalid_request", desc: "the user_id parameter is missing",
			wantParams: map[string]string{"user_type": "employee"}, wantSeen: true,
		},
		{
			name: "plain error: 500 without the cause", client: afTrustedID, form: url.Values{"user_id": {"explode"}},
			status: 500, code: "server_error", desc: "the server could not complete the request",
			wantParams: map[string]string{"user_id": "explode"}, wantSeen: true,
		},
		{
			name: "nil result: refused", client: afTrustedID, form: url.Values{"user_id": {"nobody"}},
			status: 400, code: "invalid_grant", desc: "the grant was refused",
			wantParams: map[string]string{"user_id": "nobody"}, wantSeen: true,
		},
		{
			name: "result scopes still held to the client's", client: afTrustedID, form: url.Values{"user_id": {"greedy"}},
			status: 400, code: "invalid_scope", desc: "scope 'admin' is not allowed for this client",
			wantParams: map[string]string{"user_id": "greedy"}, wantSeen: true,
		},
		{
			name: "requested scope not the client's", client: afTrustedID, form: url.Values{"user_id": {"bob"}, "scope": {"admin"}},
			status: 400, code: "invalid_scope", desc: "scope 'admin' is not allowed for this client",
			wantParams: map[string]string{"user_id": "bob"}, wantScopes: []string{"admin"}, wantSeen: true,
		},
		{
			name: "repeated parameter never reaches the grant", client: afTrustedID, form: url.Values{"user_id": {"bob", "admin"}},
			status: 400, code: "invalid_request", desc: "parameter 'user_id' is repeated",
		},
		{
			name: "padded parameter never reaches the grant", client: afTrustedID, form: url.Values{"user_id": {"bob "}},
			status: 400, code: "invalid_request", desc: "parameter 'user_id' has leading or trailing whitespace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, seen := afGrantServer(t)
			form := afClone(tt.form)
			form.Set("grant_type", afUserGrant)
			client := tt.client
			if tt.secretInBody {
				form.Set("client_id", tt.client)
				form.Set("client_secret", env.secret)
				client = ""
			}
			res := env.post(t, handler.TokenPath, client, form)

			reqs := seen.all()
			if got := len(reqs) == 1; got != tt.wantSeen || len(reqs) > 1 {
				t.Fatalf("the grant ran %d times, want it to run: %v", len(reqs), tt.wantSeen)
			}
			if tt.wantSeen {
				r := reqs[0]
				if r.Client == nil || r.Client.ID != tt.client {
					t.Errorf("GrantRequest.Client = %+v, want %s", r.Client, tt.client)
				}
				if !maps.Equal(r.Params, tt.wantParams) {
					t.Errorf("GrantRequest.Params = %v, want %v", r.Params, tt.wantParams)
				}
				if !slices.Equal(r.Scopes, tt.wantScopes) {
					t.Errorf("GrantRequest.Scopes = %q, want %q", r.Scopes, tt.wantScopes)
				}
			}

			if tt.code != "" {
				afWantError(t, tt.name, res, tt.status, tt.code, "")
				if got := res.str("error_description"); got != tt.desc {
					t.Errorf("error_description %q, want %q", got, tt.desc)
				}
				for _, leak := range []string{"hunter2", "postgres", "db.internal"} {
					if strings.Contains(res.raw, leak) {
						t.Errorf("the answer leaks %q: %s", leak, res.raw)
					}
				}
				return
			}
			pair := afTokens(t, tt.name, res)
			if (pair.refresh != "") != tt.wantRefresh {
				t.Errorf("refresh token %q, want one: %v", pair.refresh, tt.wantRefresh)
			}
			if pair.scope != tt.wantScope {
				t.Errorf("scope %q, want %q", pair.scope, tt.wantScope)
			}
			afCheckGrantToken(t, "access token", pair.access, tt.client, tt.wantSub, tt.wantUserType, tt.wantScope, tt.wantAud)
		})
	}
}

// afCheckGrantToken checks a token of the extension grant.
func afCheckGrantToken(t testing.TB, what, token, clientID, sub, userType, scope string, aud []string) {
	t.Helper()
	_, claims := afJWT(t, token)
	want := map[string]any{
		"iss": afIssuer, "sub": sub, "client_id": clientID, "scope": scope,
		"user_id": sub, "user_type": userType, "version": "1.0",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s: %s = %#v, want %#v", what, k, claims[k], v)
		}
	}
	if got := afAud(claims); !slices.Equal(got, aud) {
		t.Errorf("%s: aud %q, want %q", what, got, aud)
	}
}

// The cause of a failing grant goes to the log, not to the client.
func TestExtensionGrantErrorLogged(t *testing.T) {
	t.Parallel()
	env, _ := afGrantServer(t)
	res := env.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"explode"}})
	afWantError(t, "failing grant", res, 500, "server_error", "")
	if !strings.Contains(env.log.String(), "db.internal/users is down") {
		t.Errorf("the cause is not logged:\n%s", env.log.String())
	}
}

// A refresh token from an extension grant refreshes, for the same user,
// with the grant's claims.
func TestExtensionGrantRefresh(t *testing.T) {
	t.Parallel()
	env, seen := afGrantServer(t)
	first := afTokens(t, "grant", env.post(t, handler.TokenPath, afTrustedID,
		url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}, "user_type": {"employee"}, "scope": {"orders:read orders:write"}}))
	if first.refresh == "" {
		t.Fatal("no refresh token")
	}
	second := afTokens(t, "refresh", env.refresh(t, afTrustedID, first.refresh, nil))
	afCheckGrantToken(t, "refreshed token", second.access, afTrustedID, "bob", "employee", "orders:read orders:write", []string{apiAudience})
	narrowed := afTokens(t, "narrowing refresh", env.refresh(t, afTrustedID, second.refresh, url.Values{"scope": {"orders:read"}}))
	afCheckGrantToken(t, "narrowed token", narrowed.access, afTrustedID, "bob", "employee", "orders:read", []string{apiAudience})
	if n := len(seen.all()); n != 1 {
		t.Errorf("the grant ran %d times; refreshes must not run it again", n)
	}
	// Rotation holds for these tokens too.
	afWantError(t, "reused refresh token", env.refresh(t, afTrustedID, first.refresh, nil), 400, "invalid_grant", "")
	afWantError(t, "newest token after the reuse", env.refresh(t, afTrustedID, narrowed.refresh, nil), 400, "invalid_grant", "")
}

func TestExtensionGrantUnknownType(t *testing.T) {
	t.Parallel()
	env, seen := afGrantServer(t)
	res := env.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {"urn:example:unknown"}, "user_id": {"bob"}})
	afWantError(t, "unknown grant type", res, 400, "unsupported_grant_type", "")
	// Without Grants, the networknt grant is unknown too.
	plain := afServer(t, nil)
	res = plain.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}})
	afWantError(t, "grant not registered", res, 400, "unsupported_grant_type", "")
	if n := len(seen.all()); n != 0 {
		t.Errorf("the grant ran %d times", n)
	}
}

func TestNewRejectsBadGrants(t *testing.T) {
	t.Parallel()
	exchange := afUserGrantDef(nil).Exchange
	tests := []struct {
		name   string
		grants []handler.Grant
		want   []string // substrings of the error, one per problem
	}{
		{"empty type", []handler.Grant{{Type: "", Exchange: exchange}}, []string{`Config.Grants[0].Type: "" is not a grant type name`}},
		{"type with a space", []handler.Grant{{Type: "my grant", Exchange: exchange}}, []string{`Config.Grants[0].Type: "my grant" is not a grant type name`}},
		{"type with a control character", []handler.Grant{{Type: "grant\x01", Exchange: exchange}}, []string{`Config.Grants[0].Type: "grant\x01" is not a grant type name`}},
		{"client_credentials", []handler.Grant{{Type: "client_credentials", Exchange: exchange}}, []string{`Config.Grants[0].Type: "client_credentials" is registered twice`}},
		{"authorization_code", []handler.Grant{{Type: "authorization_code", Exchange: exchange}}, []string{`Config.Grants[0].Type: "authorization_code" is registered twice`}},
		{"refresh_token", []handler.Grant{{Type: "refresh_token", Exchange: exchange}}, []string{`Config.Grants[0].Type: "refresh_token" is registered twice`}},
		{"duplicate", []handler.Grant{{Type: afUserGrant, Exchange: exchange}, {Type: afUserGrant, Exchange: exchange}},
			[]string{`Config.Grants[1].Type: "client_authenticated_user" is registered twice`}},
		{"nil Exchange", []handler.Grant{{Type: afUserGrant}}, []string{"Config.Grants[0].Exchange: is required"}},
		{"every problem told", []handler.Grant{{Type: afUserGrant}, {Type: "", Exchange: exchange}, {Type: "refresh_token", Exchange: exchange}},
			[]string{"Config.Grants[0].Exchange: is required", `Config.Grants[1].Type: ""`, `Config.Grants[2].Type: "refresh_token" is registered twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := handler.New(handler.Config{Issuer: afIssuer, Clients: memory.New(), Grants: tt.grants})
			if err == nil {
				t.Fatalf("handler.New accepted %d bad grants (server %v)", len(tt.grants), srv != nil)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.want) {
				t.Errorf("error has %d lines, want %d: %q", n, len(tt.want), err)
			}
		})
	}
	// A good one passes.
	if _, err := handler.New(handler.Config{Issuer: afIssuer, Clients: memory.New(),
		Grants: []handler.Grant{afUserGrantDef(nil), {Type: "urn:ietf:params:oauth:grant-type:token-exchange", Exchange: exchange}}}); err != nil {
		t.Errorf("handler.New with two good grants: %v", err)
	}
}

// GrantError keeps the code and description it was given; invalid_client
// is a 401.
func TestGrantErrorCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   string
		status int
	}{
		{"invalid_grant", 400}, {"invalid_request", 400}, {"invalid_scope", 400}, {"unauthorized_client", 400},
		{"invalid_client", 401}, {"urn:example:custom_error", 400},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			env := afServer(t, func(_ *afEnv, c *handler.Config) {
				c.Grants = []handler.Grant{{Type: afUserGrant, Exchange: func(context.Context, handler.GrantRequest) (*handler.GrantResult, error) {
					return nil, handler.GrantError(tc.code, "refused: "+tc.code)
				}}}
			})
			res := env.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}})
			afWantError(t, tc.code, res, tc.status, tc.code, "")
			if got := res.str("error_description"); got != "refused: "+tc.code {
				t.Errorf("description %q", got)
			}
		})
	}
}

// The metadata lists registered extension grants, with or without an
// authorization endpoint.
func TestExtensionGrantMetadata(t *testing.T) {
	t.Parallel()
	env := afServer(t, func(_ *afEnv, c *handler.Config) {
		c.Login = nil
		c.Grants = []handler.Grant{afUserGrantDef(nil), {Type: "urn:ietf:params:oauth:grant-type:token-exchange", Exchange: afUserGrantDef(nil).Exchange}}
	})
	afWantJSON(t, afMetadata(t, env), "grant_types_supported",
		[]string{afUserGrant, "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"})
}
