package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// The revocation feed (GET /oauth/revocations, PLAN decision 3) through
// real HTTP: its answers, its cursor, what reaches it, and bad requests.
// Everything here is prefixed fd.

type fdEntry struct {
	JTI     string `json:"jti"`
	GrantID string `json:"grant_id"`
	Exp     int64  `json:"exp"`
}

type fdPage struct {
	Cursor  string    `json:"cursor"`
	Reset   bool      `json:"reset"`
	More    bool      `json:"more"`
	Revoked []fdEntry `json:"revoked"`
}

// fdGet reads the feed of the server at base after cursor ("" for none)
// and checks what every 200 answer must be.
func fdGet(t testing.TB, base, after string) fdPage {
	t.Helper()
	u := base + handler.RevocationsPath
	if after != "" {
		u += "?after=" + url.QueryEscape(after)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, raw)
	}
	for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("GET %s: %s = %q, want %q", u, h, got, want)
		}
	}
	var p fdPage
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, raw)
	}
	if p.Revoked == nil || p.Cursor == "" {
		t.Errorf("GET %s: %s: want a cursor and a revoked array", u, raw)
	}
	return p
}

// fdIDs lists a page's entries as "jti:…" and "grant:…".
func fdIDs(p fdPage) []string {
	var out []string
	for _, e := range p.Revoked {
		if e.JTI != "" {
			out = append(out, "jti:"+e.JTI)
		} else {
			out = append(out, "grant:"+e.GrantID)
		}
	}
	return out
}

func fdClaim(t testing.TB, token, name string) string {
	t.Helper()
	_, claims := afJWT(t, token)
	v, _ := claims[name].(string)
	return v
}

// TestFeedWhatReachesIt: every kind of revocation reaches the feed, in
// order, each with the expiry of what it covers: an access token revoked
// by the client, a grant revoked with its refresh token, a grant revoked
// by a replayed code, a grant revoked by a reused refresh token.
func TestFeedWhatReachesIt(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	start := fdGet(t, env.ts.URL, "")
	if !start.Reset || start.More || len(start.Revoked) != 0 {
		t.Fatalf("the feed of a new server = %+v, want reset, nothing revoked", start)
	}

	cc := env.ccToken(t)
	afWantStatus(t, "revoking an access token", env.revoke(t, integrationID, cc, ""), 200)

	byRefresh := env.pair(t, afWebID, nil)
	afWantStatus(t, "revoking a refresh token", env.revoke(t, afWebID, byRefresh.refresh, ""), 200)

	code, verifier := env.code(t, afWebID, afWebRedirect, nil)
	replayed := afTokens(t, "redemption", env.redeem(t, afWebID, code, verifier, afWebRedirect))
	afWantError(t, "replayed code", env.redeem(t, afWebID, code, verifier, afWebRedirect), 400, "invalid_grant", "")

	reused := env.pair(t, afWebID, nil)
	afTokens(t, "rotation", env.refresh(t, afWebID, reused.refresh, nil))
	afWantError(t, "reused refresh token", env.refresh(t, afWebID, reused.refresh, nil), 400, "invalid_grant", "already used")

	page := fdGet(t, env.ts.URL, start.Cursor)
	want := []string{"jti:" + fdClaim(t, cc, "jti"), "grant:" + fdClaim(t, byRefresh.access, "grant_id"),
		"grant:" + fdClaim(t, replayed.access, "grant_id"), "grant:" + fdClaim(t, reused.access, "grant_id")}
	if got := fdIDs(page); page.Reset || !slices.Equal(got, want) {
		t.Fatalf("the feed after the revocations = %q (reset %v), want %q in that order", got, page.Reset, want)
	}
	for i, e := range page.Revoked {
		// Each entry lives as long as the access tokens it covers (one
		// hour for every af client): never less.
		token := []string{cc, byRefresh.access, replayed.access, reused.access}[i]
		_, claims := afJWT(t, token)
		if exp := afNum(t, claims, "exp"); e.Exp < exp {
			t.Errorf("entry %q expires at %d, before the token it covers (%d)", want[i], e.Exp, exp)
		}
	}
	// Nothing new: the same cursor comes back, with nothing.
	again := fdGet(t, env.ts.URL, page.Cursor)
	if len(again.Revoked) != 0 || again.Cursor != page.Cursor || again.Reset {
		t.Errorf("polling again = %+v, want nothing new and cursor %q", again, page.Cursor)
	}
	// Without a cursor: everything, as a reset.
	if all := fdGet(t, env.ts.URL, ""); !all.Reset || !slices.Equal(fdIDs(all), want) {
		t.Errorf("the whole feed = %q (reset %v), want %q and reset", fdIDs(all), all.Reset, want)
	}
}

// TestFeedPaging: more than a page: full pages say more, and following the
// cursors gives every entry once.
func TestFeedPaging(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	const n = 2345
	exp := env.clock.Now().Add(time.Hour)
	for i := range n {
		if err := env.store.RevokeAccessToken(context.Background(), fmt.Sprintf("jti-%04d", i), exp); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int
	var more []bool
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		p := fdGet(t, env.ts.URL, cursor)
		sizes, more = append(sizes, len(p.Revoked)), append(more, p.More)
		for _, e := range p.Revoked {
			if seen[e.JTI] {
				t.Errorf("%s served twice", e.JTI)
			}
			seen[e.JTI] = true
			if e.Exp != exp.Unix() {
				t.Errorf("%s: exp %d, want %d", e.JTI, e.Exp, exp.Unix())
			}
		}
		cursor = p.Cursor
		if !p.More {
			break
		}
	}
	if !slices.Equal(sizes, []int{1000, 1000, 345}) || !slices.Equal(more, []bool{true, true, false}) || len(seen) != n {
		t.Errorf("pages of %v, more %v, %d distinct entries; want [1000 1000 345], [true true false], %d", sizes, more, len(seen), n)
	}
}

// TestFeedReset: a cursor of another server's feed, or one ahead of this
// feed, answers everything with reset: the client replaces its set.
func TestFeedReset(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	other := afServer(t, nil)
	jti := fdClaim(t, env.ccToken(t), "jti")
	if err := env.store.RevokeAccessToken(context.Background(), jti, env.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	otherEpoch, _, _ := strings.Cut(fdGet(t, other.ts.URL, "").Cursor, ".")
	ownEpoch, _, _ := strings.Cut(fdGet(t, env.ts.URL, "").Cursor, ".")
	if otherEpoch == ownEpoch {
		t.Fatalf("two stores share the epoch %q", ownEpoch)
	}
	for name, cursor := range map[string]string{
		"another store's cursor": otherEpoch + ".0",
		"a cursor ahead":         ownEpoch + ".99",
	} {
		p := fdGet(t, env.ts.URL, cursor)
		if !p.Reset || !slices.Equal(fdIDs(p), []string{"jti:" + jti}) || !strings.HasPrefix(p.Cursor, ownEpoch+".") {
			t.Errorf("%s: %+v, want reset with everything and a cursor of this feed", name, p)
		}
	}
}

// TestFeedExpiry: an entry is served until 5 minutes after what it
// covers expires, then no more, and the purge removes it (injected clock).
func TestFeedExpiry(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	tok := env.ccToken(t) // expires in 2 hours
	afWantStatus(t, "revoke", env.revoke(t, integrationID, tok, ""), 200)
	jti := fdClaim(t, tok, "jti")
	_, claims := afJWT(t, tok)
	exp := time.Unix(afNum(t, claims, "exp"), 0)

	// Listed until 5 minutes past exp: a resource server's leeway may
	// accept the token that long, so one starting over must learn of it.
	env.clock.Advance(exp.Add(5 * time.Minute).Sub(env.clock.Now()))
	if got := fdIDs(fdGet(t, env.ts.URL, "")); !slices.Equal(got, []string{"jti:" + jti}) {
		t.Errorf("the feed 5 minutes after the token's exp = %q, want it still listed", got)
	}
	env.clock.Advance(time.Second)
	if got := fdIDs(fdGet(t, env.ts.URL, "")); len(got) != 0 {
		t.Errorf("the feed past the grace = %q, want nothing", got)
	}
	if n, err := env.store.DeleteExpired(context.Background(), env.clock.Now(), 100); err != nil || n != 1 {
		t.Errorf("DeleteExpired after the token's exp = %d, %v; want the entry removed", n, err)
	}
}

// TestFeedBadRequests: a malformed cursor is 400 invalid_request, another
// method 405; neither is ever a 500.
func TestFeedBadRequests(t *testing.T) {
	t.Parallel()
	env := afServer(t, nil)
	epoch, _, _ := strings.Cut(fdGet(t, env.ts.URL, "").Cursor, ".")
	tests := []struct {
		name, method, query string
		status              int
		allow               string
	}{
		{"no dot", "GET", "after=" + epoch, 400, ""},
		{"no sequence", "GET", "after=" + epoch + ".", 400, ""},
		{"negative", "GET", "after=" + epoch + ".-1", 400, ""},
		{"leading zero", "GET", "after=" + epoch + ".01", 400, ""},
		{"overflow", "GET", "after=" + epoch + ".18446744073709551616", 400, ""},
		{"three parts", "GET", "after=" + epoch + ".1.2", 400, ""},
		{"bad epoch", "GET", "after=" + url.QueryEscape("ép.1"), 400, ""},
		{"repeated", "GET", "after=" + epoch + ".0&after=" + epoch + ".0", 400, ""},
		{"bad escape", "GET", "after=%zz", 400, ""},
		{"POST", "POST", "", 405, "GET, HEAD"},
		{"PUT", "PUT", "", 405, "GET, HEAD"},
		{"DELETE", "DELETE", "after=" + epoch + ".0", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, env.ts.URL+handler.RevocationsPath+"?"+tt.query, nil)
		res := afDo(t, req)
		code := "invalid_request"
		if res.status != tt.status || res.str("error") != code {
			t.Errorf("%s: got %s, want %d %s", tt.name, res, tt.status, code)
		}
		if got := res.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s: Allow %q, want %q", tt.name, got, tt.allow)
		}
	}
	// HEAD: the headers of a GET, no body.
	resp, err := http.Head(env.ts.URL + handler.RevocationsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d %q, headers %v; want 200, no body, the GET's headers", resp.StatusCode, body, resp.Header)
	}
}

func afWantStatus(t testing.TB, what string, res afHTTP, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: got %s, want %d", what, res, status)
	}
}
