package handler_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// A refresh on PostgreSQL waits for at most two round trips to the
// database (issue 10's target): read the family, then advance it with a
// compare-and-set. They are counted on the wire, by a proxy that sees each
// time the store starts talking after the database has answered, so a
// transaction's BEGIN and COMMIT, or a second statement, would show.
// client_credentials, with the client cached, waits for none.
func TestDatabaseRoundTripsPerRequestOnPostgres(t *testing.T) {
	t.Parallel()
	dsn, proxy := testservices.ProxyPostgres(t, testservices.PostgresSchema(t))
	store := sqOpen(t, dsn, sqlstore.Options{})
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	const grant = "urn:tollgate:roundtrips"
	if err := store.CreateClient(context.Background(), &storage.Client{
		ID: "rt", SecretHash: hash, GrantTypes: []string{"client_credentials", "refresh_token", grant},
		Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{apiAudience},
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := handler.New(handler.Config{
		Issuer: "http://tollgate.test", Clients: store, Tokens: store,
		Keys: []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}}, RateLimits: benchRates,
		// Nothing in the background while counting: no purge, no read of
		// the clients' change counter within the test.
		PurgeInterval: -1, ClientStaleness: time.Hour,
		Logger: slog.New(slog.DiscardHandler),
		Grants: []handler.Grant{{Type: grant, Exchange: func(context.Context, handler.GrantRequest) (*handler.GrantResult, error) {
			return &handler.GrantResult{Subject: "alice", RefreshToken: true}, nil
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("rt:"+secret))
	post := func(form url.Values) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.UnmarshalRead(res.Body, &out); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, %v: %v", res.StatusCode, err, out)
		}
		return out
	}
	// Warm up: the connections, and the client cache, which starts
	// serving once its first read of the clients' version (in the
	// background, on a connection of its own) is back.
	for i := 0; ; i++ {
		before := proxy.RoundTrips()
		post(url.Values{"grant_type": {"client_credentials"}})
		if proxy.RoundTrips() == before {
			break
		}
		if i == 1000 {
			t.Fatal("the client cache never started serving: every client_credentials request still reads the database")
		}
	}
	rt := post(url.Values{"grant_type": {grant}})["refresh_token"].(string)
	rt = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})["refresh_token"].(string)

	const n = 20
	for _, tc := range []struct {
		what string
		max  float64
		send func()
	}{
		{"client_credentials", 0, func() { post(url.Values{"grant_type": {"client_credentials"}}) }},
		{"refresh rotation", 2, func() {
			rt = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})["refresh_token"].(string)
		}},
	} {
		before := proxy.RoundTrips()
		for range n {
			tc.send()
		}
		per := float64(proxy.RoundTrips()-before) / n
		t.Logf("%s: %.2f database round trips per request", tc.what, per)
		if per > tc.max {
			t.Errorf("%s: %.2f database round trips per request, want at most %v", tc.what, per, tc.max)
		}
	}
}
