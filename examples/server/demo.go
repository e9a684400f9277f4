package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

const (
	demoClientID   = "demo"
	demoStorefront = "demo-storefront"
	demoSPA        = "demo-spa"
	demoUser       = "alice" // not "demo": a user may not be named like a client
	demoAudience   = "https://api.example.com"
	demoQAAudience = "https://qa-api.example.com"
)

// demo is what the zero-config server generates at start and prints once.
type demo struct {
	secret   string // demoClientID's client secret
	password string // demoUser's password
	// A ready PKCE pair and state for the printed walkthrough. Every run of
	// the walkthrough reuses them, which a real client must not do: it
	// draws a fresh verifier per authorization request.
	verifier, challenge, state string
	issuer, redirectURI        string // set by addUserFlow; redirectURI "" if it could not be
	storage                    string // the storage spec, for the commands printed
}

func demoConfig() (*fileConfig, *demo, error) {
	plain, hash, err := handler.GenerateClientSecret()
	if err != nil {
		return nil, nil, err
	}
	// The demo password is generated, not a well-known one: with -listen
	// :8080 the server is reachable from the network, and a password
	// everybody knows would sign anybody in. 96 bits, short enough to type.
	d := &demo{secret: plain, password: random(12), verifier: random(32), state: random(9)}
	sum := sha256.Sum256([]byte(d.verifier))
	d.challenge = b64.EncodeToString(sum[:])
	return &fileConfig{
		Keys: []keyConfig{{KID: "k1", Alg: "RS256"}},
		Clients: []clientConfig{
			{
				ID: demoClientID, SecretHash: hash, GrantTypes: []string{"client_credentials"},
				Scopes:        []string{"market:all", "market:id:*", "orders:read", "orders:write"},
				DefaultScopes: []string{"market:all"},
				Audiences:     []string{demoAudience, demoQAAudience}, AccessTokenTTL: duration(2 * time.Hour),
				// The walkthrough introspects demo-spa's tokens with it.
				Introspector: true,
			},
			{
				ID: demoStorefront, Public: true, GrantTypes: []string{"client_credentials"},
				Scopes: []string{"market:id:*"}, RequireScope: true,
				Audiences: []string{demoAudience}, AccessTokenTTL: duration(4 * time.Hour),
			},
		},
	}, d, nil
}

// random returns n bytes from crypto/rand, base64url: URL- and
// shell-safe as printed.
func random(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return b64.EncodeToString(b)
}

// addUserFlow adds the authorization-code part of the demo, a user and a
// public client redirecting to the server's own callback page, once the
// issuer (and so the callback's URL) is known. Plain http redirect URIs
// are for loopback hosts only (RFC 8252 §7.3; storage checks it), so an
// issuer such as http://192.0.2.1:8080 gets no user flow.
func (d *demo) addUserFlow(cfg *fileConfig) {
	d.issuer = cfg.Issuer
	u, err := url.Parse(cfg.Issuer)
	if err != nil {
		return
	}
	if h := u.Hostname(); u.Scheme == "http" && h != "localhost" && h != "127.0.0.1" && h != "::1" {
		return
	}
	d.redirectURI = cfg.Issuer + callbackPath
	cfg.Users = append(cfg.Users, userConfig{
		Username: demoUser, Password: d.password,
		Claims: map[string]any{"user_type": "customer", "version": "1.0"},
	})
	cfg.Clients = append(cfg.Clients, clientConfig{
		ID: demoSPA, Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"orders:read", "orders:write"}, DefaultScopes: []string{"orders:read"},
		Audiences: []string{demoAudience}, RedirectURIs: []string{d.redirectURI},
		AccessTokenTTL: duration(15 * time.Minute), RefreshTokenTTL: duration(24 * time.Hour),
	})
}

func (d *demo) authorizeURL() string {
	return d.issuer + handler.AuthorizePath + "?" + url.Values{
		"response_type": {"code"}, "client_id": {demoSPA}, "redirect_uri": {d.redirectURI},
		"scope": {"orders:read"}, "state": {d.state},
		"code_challenge": {d.challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

// exchangeCurl is the token request for code, which must be form-encoded
// already: it lands in a shell line inside single quotes.
func (d *demo) exchangeCurl(code string) string {
	return fmt.Sprintf("curl -s -d 'grant_type=authorization_code&client_id=%s&redirect_uri=%s&code_verifier=%s&code=%s' %s",
		demoSPA, url.QueryEscape(d.redirectURI), d.verifier, code, d.issuer+handler.TokenPath)
}

func printDemo(w io.Writer, d *demo) {
	secret, note, rotate := d.secret, "printed once; generated with the database", ""
	if d.storage == "memory" {
		note = "printed once; generated at start, gone at stop: memory storage"
	}
	if secret == "" {
		// The database already held the client: its secret was printed
		// when it was made, and only its hash is kept. The command that
		// makes a new one is printed whole, storage included, to be run
		// as it is.
		secret, note = "$SECRET", "printed when the database was made"
		rotate = "  new secret:    " + adminCommand(d.storage, "clients", "rotate-secret", demoClientID) + "\n"
	}
	fmt.Fprintf(w, `
demo confidential client
  client_id:     %[2]s
  client_secret: %[3]s   (%[5]s)
%[6]sdemo public client (no secret, must name a market scope)
  client_id:     %[4]s

get a token:
  curl -s -u %[2]s:%[3]s -d grant_type=client_credentials %[1]s/oauth/token
  curl -s -H 'Content-Type: application/json' -d '{"grant_type":"client_credentials","client_id":"%[4]s","scope":"market:id:xYZkjABcde"}' %[1]s/oauth/token
`, d.issuer, demoClientID, secret, demoStorefront, note, rotate)
	if d.redirectURI == "" {
		fmt.Fprintf(w, "\n(no sign-in demo: http redirect URIs must be on localhost, and the issuer is %s)\n\n", d.issuer)
		return
	}
	fmt.Fprintf(w, `
demo user
  username: %[2]s
  password: %[3]s   (printed once; generated at start)
demo public client for users (authorization code + PKCE, refresh tokens)
  client_id:     %[4]s
  redirect_uri:  %[5]s
  PKCE pair:     code_verifier %[6]s
                 code_challenge %[9]s (S256, in the URL below)

sign a user in:
  1. open in a browser, sign in as %[2]s and allow the request:
     %[7]s
  2. the callback page shows the code and this line with it filled in (the code works once, for 10 minutes):
     %[8]s
  3. refresh with the refresh_token from step 2:
     curl -s -d 'grant_type=refresh_token&client_id=%[4]s&refresh_token=<refresh_token>' %[1]s/oauth/token

`, d.issuer, demoUser, d.password, demoSPA, d.redirectURI, d.verifier, d.authorizeURL(), d.exchangeCurl("<code>"), d.challenge)
}
