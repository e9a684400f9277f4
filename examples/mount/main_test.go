package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

// TestMountedUnderPrefix runs the app over real HTTP: its own route still
// answers, the metadata under /auth names URLs with the /auth issuer, and
// a token comes from the endpoint the metadata names.
func TestMountedUnderPrefix(t *testing.T) {
	t.Parallel()
	// The issuer must be known before the listener's address is: start an
	// unstarted server, then build the app with its URL.
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	defer ts.Close()
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	issuer := ts.URL + "/auth"
	app, err := newApp(issuer, hash, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = app

	resp, err := http.Get(ts.URL + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("app home: %v %v", resp, err)
	}
	resp.Body.Close()

	resp, err = http.Get(ts.URL + "/auth/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
		JWKSURI       string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if md.Issuer != issuer || md.TokenEndpoint != issuer+"/oauth/token" || md.JWKSURI != issuer+"/.well-known/jwks.json" {
		t.Fatalf("metadata = %+v, want URLs under %s", md, issuer)
	}

	resp, err = http.Get(md.JWKSURI)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("jwks at %s: %v %v", md.JWKSURI, resp, err)
	}
	resp.Body.Close()

	req, _ := http.NewRequest(http.MethodPost, md.TokenEndpoint, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("reports", secret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" || tok.Scope != "reports:read" {
		t.Fatalf("token: status %d, %+v, %v", resp.StatusCode, tok, err)
	}
}
