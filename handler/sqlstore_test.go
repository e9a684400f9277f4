package handler_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/internal/testservices"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/sqlstore"
)

// The token endpoint over storage/sqlstore, through real HTTP, on SQLite
// and PostgreSQL: issuance, single use under concurrency, and a database
// that stops answering (503 temporarily_unavailable within a bounded time,
// never 500, never a hang; recovery without a restart). Everything here is
// prefixed sq.

const (
	sqCCID      = "sq-integration" // client_credentials
	sqPartnerID = "sq-partner"     // the extension grant and refresh_token
	sqWebID     = "sq-web"         // authorization_code and refresh_token
	sqRedirect  = "https://app.example.com/cb"
	sqUserGrant = "urn:example:params:oauth:grant-type:sq-user"
	sqIssuer    = "http://tollgate.test"
	sqState     = "sq-state-8f2a9c"

	// sqQueryTimeout bounds each storage call in the fault tests; a request
	// makes a few, so sqBound is what a client may wait for its 503. A
	// second, not less: a loaded CI machine has taken over 300 ms to
	// reconnect through the proxy once the database came back.
	sqQueryTimeout = time.Second
	sqBound        = 5 * time.Second
)

// sqHTTP never follows redirects (the authorization endpoint's answer is
// the redirect) and never waits forever: a hang is a failure.
var sqHTTP = &http.Client{
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

var sqSecret = sync.OnceValues(func() ([2]string, error) {
	plain, hash, err := handler.GenerateClientSecret()
	return [2]string{plain, hash}, err
})

// sqEnv is a tollgate server whose clients and tokens are in sqlstores.
type sqEnv struct {
	ts     *httptest.Server
	srv    *handler.Server
	secret string
}

// sqSeed adds the sq clients to s.
func sqSeed(t testing.TB, s *sqlstore.Store) string {
	t.Helper()
	sec, err := sqSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*storage.Client{
		{ID: sqCCID, SecretHash: sec[1], GrantTypes: []string{"client_credentials"},
			Scopes: []string{"market:all"}, DefaultScopes: []string{"market:all"}, Audiences: []string{apiAudience}},
		{ID: sqPartnerID, SecretHash: sec[1], GrantTypes: []string{sqUserGrant, "refresh_token"},
			Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{apiAudience}},
		{ID: sqWebID, SecretHash: sec[1], GrantTypes: []string{"authorization_code", "refresh_token"},
			Scopes: []string{"orders:read"}, DefaultScopes: []string{"orders:read"}, Audiences: []string{apiAudience},
			RedirectURIs: []string{sqRedirect}},
	} {
		if err := s.CreateClient(context.Background(), c); err != nil {
			t.Fatalf("adding client %q: %v", c.ID, err)
		}
	}
	return sec[0]
}

// sqServer serves clients and tokens from the given stores (clients seeded
// beforehand), with a Login hook that signs in alice and an extension
// grant that issues refresh tokens. A request's X-Sq-Request header is
// put in its context, for sqInterleave.
func sqServer(t testing.TB, clients storage.ClientGetter, tokens storage.TokenStore, secret string) *sqEnv {
	t.Helper()
	return sqServerWith(t, clients, tokens, secret, nil)
}

// sqServerWith is sqServer with mutate applied to the config last.
func sqServerWith(t testing.TB, clients storage.ClientGetter, tokens storage.TokenStore, secret string, mutate func(*handler.Config)) *sqEnv {
	t.Helper()
	// The server's log is shown when the test fails: a 500 says why there.
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	cfg := handler.Config{
		Issuer:  sqIssuer,
		Clients: clients,
		Tokens:  tokens,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Keys:    []handler.SigningKey{{ID: "k1", Algorithm: "ES256"}},
		Login:   func(http.ResponseWriter, *http.Request) (string, bool) { return "alice", true },
		Grants: []handler.Grant{{Type: sqUserGrant, Exchange: func(context.Context, handler.GrantRequest) (*handler.GrantResult, error) {
			return &handler.GrantResult{Subject: "alice", RefreshToken: true}, nil
		}}},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := handler.New(cfg)
	if err != nil {
		t.Fatalf("handler.New: %v", err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.Header.Get("X-Sq-Request"); name != "" {
			r = r.WithContext(context.WithValue(r.Context(), sqRequestKey{}, name))
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return &sqEnv{ts: ts, srv: srv, secret: secret}
}

// sqBackend opens an empty store; opts apply to it. An observed backend's
// servers run with metrics, tracing and audit on (obObserved), so that
// the tests that loop over sqBackendsObserved also prove the observed
// stores keep what the server needs of sqlstore.
type sqBackend struct {
	name     string
	open     func(t *testing.T, opts sqlstore.Options) *sqlstore.Store
	observed bool
}

// sqBackendsObserved is sqBackends, then each again observed.
func sqBackendsObserved() []sqBackend {
	plain := sqBackends()
	out := slices.Clone(plain)
	for _, b := range plain {
		b.name, b.observed = b.name+"/observed", true
		out = append(out, b)
	}
	return out
}

// mutate is the config change of b's servers: nil, or observation.
func (b sqBackend) mutate(t testing.TB, wantSpans ...string) func(*handler.Config) {
	if !b.observed {
		return nil
	}
	return obObserved(t, wantSpans...)
}

func sqBackends() []sqBackend {
	return []sqBackend{
		{name: "SQLite", open: func(t *testing.T, opts sqlstore.Options) *sqlstore.Store {
			return sqOpen(t, "sqlite:"+filepath.Join(t.TempDir(), "tollgate.db"), opts)
		}},
		{name: "Postgres", open: func(t *testing.T, opts sqlstore.Options) *sqlstore.Store {
			return sqOpen(t, testservices.PostgresSchema(t), opts)
		}},
	}
}

// sqServerOn is a server on one store of backend b.
func sqServerOn(t *testing.T, b sqBackend) (*sqEnv, *sqlstore.Store) {
	t.Helper()
	s := b.open(t, sqlstore.Options{})
	return sqServerWith(t, s, s, sqSeed(t, s), b.mutate(t)), s
}

func sqOpen(t testing.TB, dsn string, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sqPostgresPair opens two stores on one new schema: one direct, one
// through a fault proxy the test can pause.
func sqPostgresPair(t *testing.T) (direct, proxied *sqlstore.Store, proxy *testservices.Proxy) {
	t.Helper()
	dsn := testservices.PostgresSchema(t)
	pdsn, proxy := testservices.ProxyPostgres(t, dsn)
	// The direct store keeps the default timeout: it is never paused, and
	// seeding through a 1 s budget fails on a loaded CI machine.
	direct = sqOpen(t, dsn, sqlstore.Options{})
	proxied = sqOpen(t, pdsn, sqlstore.Options{QueryTimeout: sqQueryTimeout})
	return direct, proxied, proxy
}

// --- requests ---

type sqResp struct {
	status  int
	header  http.Header
	raw     string
	body    map[string]any
	elapsed time.Duration
}

func (r sqResp) str(name string) string { s, _ := r.body[name].(string); return s }

func (r sqResp) String() string {
	return fmt.Sprintf("%d %s (after %v)", r.status, strings.TrimSpace(r.raw), r.elapsed.Round(time.Millisecond))
}

// sqRequest is a form POST to path as client id (HTTP Basic).
func (e *sqEnv) sqRequest(path, id string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(e.secret))))
	return req
}

// sqSend sends req; safe from any goroutine.
func sqSend(req *http.Request) (sqResp, error) {
	start := time.Now()
	resp, err := sqHTTP.Do(req)
	if err != nil {
		return sqResp{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return sqResp{}, err
	}
	r := sqResp{status: resp.StatusCode, header: resp.Header, raw: string(raw), elapsed: time.Since(start)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("response is not JSON: %v: %s", err, raw)
		}
	}
	return r, nil
}

func (e *sqEnv) post(t testing.TB, path, id string, form url.Values) sqResp {
	t.Helper()
	r, err := sqSend(e.sqRequest(path, id, form))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return r
}

func (e *sqEnv) clientCredentials(t testing.TB) sqResp {
	t.Helper()
	return e.post(t, handler.TokenPath, sqCCID, url.Values{"grant_type": {"client_credentials"}})
}

// userGrant runs the extension grant, which issues a refresh token.
func (e *sqEnv) userGrant(t testing.TB) sqResp {
	t.Helper()
	return e.post(t, handler.TokenPath, sqPartnerID, url.Values{"grant_type": {sqUserGrant}})
}

func sqRefreshForm(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

// sqWantTokens checks a 200 token response and returns its tokens.
func sqWantTokens(t testing.TB, what string, r sqResp, refresh bool) (access, refreshToken string) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("token_type") != "Bearer" {
		t.Fatalf("%s: got %s, want 200 with a Bearer token", what, r)
	}
	if refresh && r.str("refresh_token") == "" {
		t.Fatalf("%s: no refresh_token in %s", what, r)
	}
	return r.str("access_token"), r.str("refresh_token")
}

// code runs an authorization request (alice is signed in) and returns the
// code with its PKCE verifier.
func (e *sqEnv) code(t testing.TB) (code, verifier string) {
	t.Helper()
	req, verifier := e.authorizeRequest(t)
	r, err := sqSend(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusSeeOther {
		t.Fatalf("authorization request: got %s, want 303 to %s", r, sqRedirect)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorization request: Location %q, want a code", r.header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier
}

// authorizeRequest builds an authorization request bound to a new PKCE
// verifier.
func (e *sqEnv) authorizeRequest(t testing.TB) (req *http.Request, verifier string) {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {sqWebID}, "redirect_uri": {sqRedirect},
		"scope": {"orders:read"}, "state": {sqState},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	req, _ = http.NewRequest(http.MethodGet, e.ts.URL+handler.AuthorizePath+"?"+q.Encode(), nil)
	return req, verifier
}

func sqRedeemForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {sqRedirect}}
}

// sqParallel sends n requests at once (each built beforehand) and returns
// the answers; a transport error (a hang past sqHTTP's timeout included)
// is a failure.
func sqParallel(t testing.TB, n int, build func() *http.Request) []sqResp {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = build()
	}
	out := make([]sqResp, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = sqSend(reqs[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	return out
}

// sqTally counts answers by "status error".
func sqTally(rs []sqResp) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[fmt.Sprintf("%d %s", r.status, r.str("error"))]++
	}
	return m
}

// sqWantUnavailable checks an answer is 503 temporarily_unavailable as
// OAuth JSON, in time, telling nothing about the database.
func sqWantUnavailable(t testing.TB, what string, r sqResp, proxyAddr string) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" {
		t.Errorf("%s with the database not answering: got %s, want 503 temporarily_unavailable", what, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want OAuth JSON", what, ct)
	}
	if r.elapsed > sqBound {
		t.Errorf("%s: answered after %v with QueryTimeout %v, want within %v", what, r.elapsed, sqQueryTimeout, sqBound)
	}
	for _, leak := range []string{"sqlstore", "deadline", "tollgate_", proxyAddr, "pgx", "postgres"} {
		if strings.Contains(strings.ToLower(r.raw), strings.ToLower(leak)) {
			t.Errorf("%s: the answer tells %q: %s", what, leak, r.raw)
		}
	}
}

// --- tests ---

func TestSqClientCredentials(t *testing.T) {
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e, store := sqServerOn(t, b)
			before := sqRowCounts(t, store)
			for i := range 3 {
				sqWantTokens(t, fmt.Sprintf("client_credentials %d", i+1), e.clientCredentials(t), false)
			}
			// A wrong secret and an unknown client are still 401s, as over
			// the memory store.
			wrong := e.sqRequest(handler.TokenPath, sqCCID, url.Values{"grant_type": {"client_credentials"}})
			wrong.SetBasicAuth(sqCCID, "wrong")
			for what, req := range map[string]*http.Request{
				"wrong secret":   wrong,
				"unknown client": e.sqRequest(handler.TokenPath, "sq-nobody", url.Values{"grant_type": {"client_credentials"}}),
			} {
				r, err := sqSend(req)
				if err != nil || r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
					t.Errorf("%s: got %v %v, want 401 invalid_client", what, r, err)
				}
			}
			// The hot path writes nothing.
			if after := sqRowCounts(t, store); after != before {
				t.Errorf("client_credentials wrote to storage: rows %v, before %v", after, before)
			}
		})
	}
}

// sqRowCounts counts the rows of the client and token tables.
func sqRowCounts(t testing.TB, s *sqlstore.Store) string {
	t.Helper()
	var out []string
	for _, table := range []string{"tollgate_clients", "tollgate_codes", "tollgate_families", "tollgate_revocations",
		"tollgate_legacy_refresh_tokens", "tollgate_legacy_access_tokens"} {
		var n int
		if err := s.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", table, err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

// TestSqRefreshConcurrent: 32 concurrent uses of one refresh token yield
// exactly one new token pair; the rest are invalid_grant.
func TestSqRefreshConcurrent(t *testing.T) {
	const n = 32
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e, _ := sqServerOn(t, b)
			_, refresh := sqWantTokens(t, "extension grant", e.userGrant(t), true)
			res := sqParallel(t, n, func() *http.Request {
				return e.sqRequest(handler.TokenPath, sqPartnerID, sqRefreshForm(refresh))
			})
			tally := sqTally(res)
			if tally["200 "] != 1 || tally["400 invalid_grant"] != n-1 {
				t.Errorf("%d concurrent uses of one refresh token: %v, want exactly one 200 and %d 400 invalid_grant", n, tally, n-1)
			}
			for _, r := range res {
				if r.status == http.StatusOK {
					sqWantTokens(t, "the winner", r, true)
				}
			}
			// The used token stays used.
			if r := e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("the used refresh token once more: got %s, want 400 invalid_grant", r)
			}
		})
	}
}

// TestSqRefreshRotation: a rotated token works once, then its successor
// does, over the real stores.
func TestSqRefreshRotation(t *testing.T) {
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e, _ := sqServerOn(t, b)
			_, refresh := sqWantTokens(t, "extension grant", e.userGrant(t), true)
			for i := range 3 {
				_, refresh = sqWantTokens(t, fmt.Sprintf("refresh %d", i+1), e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)), true)
			}
		})
	}
}

// TestSqCodeConcurrent: two concurrent redemptions of one authorization
// code: exactly one 200, the other invalid_grant. The two requests race
// differently each time, so the race is run on many codes.
func TestSqCodeConcurrent(t *testing.T) {
	const rounds = 25
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e, _ := sqServerOn(t, b)
			var bad []string
			for round := range rounds {
				code, verifier := e.code(t)
				res := sqParallel(t, 2, func() *http.Request {
					return e.sqRequest(handler.TokenPath, sqWebID, sqRedeemForm(code, verifier))
				})
				if tally := sqTally(res); tally["200 "] != 1 || tally["400 invalid_grant"] != 1 {
					bad = append(bad, fmt.Sprintf("round %d: %v", round+1, tally))
				}
			}
			if len(bad) > 0 {
				t.Errorf("two concurrent redemptions of one code, want one 200 and one 400 invalid_grant; %d of %d rounds got otherwise:\n%s",
					len(bad), rounds, strings.Join(bad, "\n"))
			}
		})
	}
}

// sqRequestKey holds a request's X-Sq-Request header in its context.
type sqRequestKey struct{}

// sqInterleave is a token store that forces one interleaving of two
// requests on one code or refresh token, A and B by their X-Sq-Request
// header: B checks the record (finds it unused) and gets as far as
// issuing; there it waits while A redeems the record; then B goes on.
// That is the race a single-use check must win however the requests are
// scheduled; sending requests "at once" only sometimes hits it.
type sqInterleave struct {
	*sqlstore.Store
	bIssuing, aUsed         chan struct{}
	bIssuingOnce, aUsedOnce sync.Once
	stuck                   atomic.Bool // a wait timed out: the interleaving did not happen
}

func sqNewInterleave(s *sqlstore.Store) *sqInterleave {
	return &sqInterleave{Store: s, bIssuing: make(chan struct{}), aUsed: make(chan struct{})}
}

func sqWho(ctx context.Context) string { name, _ := ctx.Value(sqRequestKey{}).(string); return name }

// sqIssuing reports whether the store is called from a grant's issuing
// step (fosite's PopulateTokenEndpointResponse), after every check.
func sqIssuing() bool {
	pc := make([]uintptr, 100)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, ".PopulateTokenEndpointResponse") {
			return true
		}
		if !more {
			return false
		}
	}
}

func (s *sqInterleave) wait(ch chan struct{}) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		s.stuck.Store(true)
	}
}

// call runs a store call of the record. B's first call from its issuing
// step tells A to go, and waits until A has consumed the record; A's
// consuming call waits for that.
func (s *sqInterleave) call(ctx context.Context, consumes bool, f func()) {
	switch sqWho(ctx) {
	case "A":
		if consumes {
			s.wait(s.bIssuing)
			f()
			s.aUsedOnce.Do(func() { close(s.aUsed) })
			return
		}
	case "B":
		if sqIssuing() {
			s.bIssuingOnce.Do(func() { close(s.bIssuing) })
			s.wait(s.aUsed)
		}
	}
	f()
}

func (s *sqInterleave) GetCode(ctx context.Context, sig string) (c *storage.AuthorizationCode, err error) {
	s.call(ctx, false, func() { c, err = s.Store.GetCode(ctx, sig) })
	return c, err
}

func (s *sqInterleave) UseCode(ctx context.Context, sig string) (err error) {
	s.call(ctx, true, func() { err = s.Store.UseCode(ctx, sig) })
	return err
}

func (s *sqInterleave) GetFamily(ctx context.Context, id string) (f *storage.Family, err error) {
	s.call(ctx, false, func() { f, err = s.Store.GetFamily(ctx, id) })
	return f, err
}

func (s *sqInterleave) AdvanceFamily(ctx context.Context, id string, from uint64, exp, access time.Time) (err error) {
	s.call(ctx, true, func() { err = s.Store.AdvanceFamily(ctx, id, from, exp, access) })
	return err
}

// sqRaceAB sends the same request as A and as B at once, under an
// sqInterleave, and checks A wins and B gets invalid_grant.
func sqRaceAB(t *testing.T, ilv *sqInterleave, what string, build func() *http.Request) {
	t.Helper()
	names := []string{"A", "B"}
	var i atomic.Int32
	res := sqParallel(t, 2, func() *http.Request {
		req := build()
		req.Header.Set("X-Sq-Request", names[i.Add(1)-1])
		return req
	})
	for name, ch := range map[string]chan struct{}{"B reaching its issuing step": ilv.bIssuing, "A consuming the record": ilv.aUsed} {
		select {
		case <-ch:
		default:
			t.Errorf("%s: never happened: the store did not see the requests as A and B", name)
		}
	}
	if ilv.stuck.Load() {
		t.Errorf("%s: the interleaving (B checks, A consumes, B issues) timed out; the calls the grant makes have changed", what)
	}
	if res[0].status != http.StatusOK {
		t.Errorf("%s: A (consumed first) got %s, want 200", what, res[0])
	}
	if res[1].status != http.StatusBadRequest || res[1].str("error") != "invalid_grant" {
		t.Errorf("%s: B (checked the record unused, issued after A consumed it) got %s, want 400 invalid_grant", what, res[1])
	}
}

// TestSqCodeRaceInterleaved: B has checked the code, A redeems it, B
// goes on to issue: B must get invalid_grant, not 500.
func TestSqCodeRaceInterleaved(t *testing.T) {
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store := b.open(t, sqlstore.Options{})
			ilv := sqNewInterleave(store)
			e := sqServerWith(t, store, ilv, sqSeed(t, store), b.mutate(t))
			code, verifier := e.code(t)
			sqRaceAB(t, ilv, "authorization code", func() *http.Request {
				return e.sqRequest(handler.TokenPath, sqWebID, sqRedeemForm(code, verifier))
			})
		})
	}
}

// TestSqRefreshRaceInterleaved: the same for a refresh token.
func TestSqRefreshRaceInterleaved(t *testing.T) {
	for _, b := range sqBackendsObserved() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			store := b.open(t, sqlstore.Options{})
			ilv := sqNewInterleave(store)
			e := sqServerWith(t, store, ilv, sqSeed(t, store), b.mutate(t))
			_, refresh := sqWantTokens(t, "extension grant", e.userGrant(t), true)
			sqRaceAB(t, ilv, "refresh token", func() *http.Request {
				return e.sqRequest(handler.TokenPath, sqPartnerID, sqRefreshForm(refresh))
			})
		})
	}
}

// TestSqDatabaseDown: with the database not answering, every endpoint
// that needs it answers 503 temporarily_unavailable within a bounded time;
// when it answers again, so does tollgate, without a restart.
func TestSqDatabaseDown(t *testing.T) {
	t.Parallel()
	_, store, proxy := sqPostgresPair(t)
	e := sqServer(t, store, store, sqSeed(t, store))
	access, _ := sqWantTokens(t, "client_credentials before", e.clientCredentials(t), false)
	_, refresh := sqWantTokens(t, "extension grant before", e.userGrant(t), true)

	proxy.Pause()
	requests := []struct {
		name string
		req  func() *http.Request
	}{
		{"client_credentials", func() *http.Request {
			return e.sqRequest(handler.TokenPath, sqCCID, url.Values{"grant_type": {"client_credentials"}})
		}},
		{"refresh_token", func() *http.Request { return e.sqRequest(handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)) }},
		{"extension grant", func() *http.Request {
			return e.sqRequest(handler.TokenPath, sqPartnerID, url.Values{"grant_type": {sqUserGrant}})
		}},
		{"revoke", func() *http.Request {
			return e.sqRequest(handler.RevokePath, sqPartnerID, url.Values{"token": {refresh}})
		}},
		{"introspect", func() *http.Request {
			return e.sqRequest(handler.IntrospectPath, sqCCID, url.Values{"token": {access}})
		}},
	}
	for _, rq := range requests {
		r, err := sqSend(rq.req())
		if err != nil {
			t.Fatalf("%s with the database not answering: %v", rq.name, err)
		}
		sqWantUnavailable(t, rq.name, r, proxy.Addr())
	}
	// The authorization endpoint cannot look the client up, so cannot
	// trust its redirect URI: the error is shown, not redirected, and is
	// the database's, not "no such client".
	req, _ := e.authorizeRequest(t)
	r, err := sqSend(req)
	if err != nil {
		t.Fatal(err)
	}
	sqWantUnavailable(t, "authorization request", r, proxy.Addr())
	if loc := r.header.Get("Location"); loc != "" {
		t.Errorf("authorization request with the database down redirected to %q", loc)
	}
	// Many at once: more than the pool holds, still bounded.
	for i, r := range sqParallel(t, 40, requests[0].req) {
		sqWantUnavailable(t, fmt.Sprintf("concurrent client_credentials %d", i), r, proxy.Addr())
	}

	proxy.Resume()
	sqWantTokens(t, "client_credentials after the database returned", e.clientCredentials(t), false)
	sqWantTokens(t, "refresh after the database returned", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)), true)
}

// TestSqTokenStoreDown: clients readable, token store not answering. Each
// grant's own storage calls must turn into 503, not 500 — and
// client_credentials, which touches no token storage, keeps working.
func TestSqTokenStoreDown(t *testing.T) {
	t.Parallel()
	clients, tokens, proxy := sqPostgresPair(t)
	e := sqServer(t, clients, tokens, sqSeed(t, clients))
	access, _ := sqWantTokens(t, "client_credentials before", e.clientCredentials(t), false)
	_, refresh := sqWantTokens(t, "extension grant before", e.userGrant(t), true)
	code, verifier := e.code(t)

	proxy.Pause()
	sqWantTokens(t, "client_credentials with the token store down", e.clientCredentials(t), false)
	for _, rq := range []struct {
		name     string
		path, id string
		form     url.Values
	}{
		{"refresh_token", handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)},
		{"extension grant issuing a refresh token", handler.TokenPath, sqPartnerID, url.Values{"grant_type": {sqUserGrant}}},
		{"authorization_code", handler.TokenPath, sqWebID, sqRedeemForm(code, verifier)},
		{"revoke a refresh token", handler.RevokePath, sqPartnerID, url.Values{"token": {refresh}}},
		{"revoke an access token", handler.RevokePath, sqCCID, url.Values{"token": {access}}},
		{"introspect an access token", handler.IntrospectPath, sqCCID, url.Values{"token": {access}}},
		{"introspect a refresh token", handler.IntrospectPath, sqPartnerID, url.Values{"token": {refresh}}},
	} {
		r, err := sqSend(e.sqRequest(rq.path, rq.id, rq.form))
		if err != nil {
			t.Fatalf("%s with the token store not answering: %v", rq.name, err)
		}
		sqWantUnavailable(t, rq.name, r, proxy.Addr())
	}

	proxy.Resume()
	// The code and the refresh token were never consumed: both still work.
	sqWantTokens(t, "code redeemed after the token store returned", e.post(t, handler.TokenPath, sqWebID, sqRedeemForm(code, verifier)), true)
	sqWantTokens(t, "refresh after the token store returned", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)), true)
}

// TestSqSQLiteLocked: another process holds the SQLite file's write lock
// for longer than a call may wait. What writes (a refresh) answers 503
// within a bounded time; what only reads (client_credentials) goes on;
// once the lock is released, refreshing works again.
func TestSqSQLiteLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	store := sqOpen(t, "sqlite:"+path, sqlstore.Options{QueryTimeout: sqQueryTimeout})
	e := sqServer(t, store, store, sqSeed(t, store))
	_, refresh := sqWantTokens(t, "extension grant", e.userGrant(t), true)

	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()
	locker, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	sqWantTokens(t, "client_credentials with the file locked", e.clientCredentials(t), false)
	sqWantUnavailable(t, "refresh with the file locked", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)), path)

	if _, err := locker.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	sqWantTokens(t, "refresh after the lock was released", e.post(t, handler.TokenPath, sqPartnerID, sqRefreshForm(refresh)), true)
}

// TestSqAuthorizeTokenStoreDown: the authorization endpoint cannot store
// the code. The user is sent back to the client (the redirect URI is
// known good) with temporarily_unavailable (RFC 6749 §4.1.2.1), in time,
// and the redirect tells nothing about the database.
func TestSqAuthorizeTokenStoreDown(t *testing.T) {
	t.Parallel()
	clients, tokens, proxy := sqPostgresPair(t)
	e := sqServer(t, clients, tokens, sqSeed(t, clients))
	proxy.Pause()
	req, _ := e.authorizeRequest(t)
	r, err := sqSend(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.elapsed > sqBound {
		t.Errorf("authorization request answered after %v, want within %v", r.elapsed, sqBound)
	}
	if r.status != http.StatusSeeOther {
		t.Fatalf("authorization request with the token store down: got %s, want 303 back to the client", r)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got := q.Get("error"); got != "temporarily_unavailable" {
		t.Errorf("error = %q, want temporarily_unavailable (Location %s)", got, loc)
	}
	if q.Has("code") || q.Get("state") != sqState || q.Get("iss") != sqIssuer {
		t.Errorf("error redirect %s: want state and iss, no code", loc)
	}
	for _, leak := range []string{"sqlstore", "deadline", "tollgate_", proxy.Addr()} {
		if strings.Contains(loc.String(), leak) {
			t.Errorf("the redirect tells %q: %s", leak, loc)
		}
	}
	proxy.Resume()
	e.code(t)
}
