package middleware_test

// Helpers of the revocation tests: a fake feed that follows the wire
// contract of tollgate's handler (GET <issuer>/oauth/revocations?after=
// <cursor>), and a protected API in front of a Revocations set. Every name
// starts with rv.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
	"github.com/tollgate-oauth/tollgate/middleware/authtest"
)

// rvFeedPath is where a tollgate issuer serves its feed.
const rvFeedPath = "/oauth/revocations"

type rvEntry struct {
	seq     int
	jti     string
	grantID string
	exp     int64
}

// rvFeed is a fake revocation feed over real HTTP. It pages at pageSize,
// answers a missing, foreign or future cursor with everything and reset,
// and can be made to fail or to answer raw bytes.
type rvFeed struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	epoch    string
	seq      int
	entries  []rvEntry
	pageSize int
	status   int    // answered instead when not 200
	raw      []byte // answered instead when set
	afters   []string

	hits atomic.Int64
}

func rvNewFeed(t *testing.T) *rvFeed {
	t.Helper()
	f := &rvFeed{t: t, epoch: "e1", pageSize: 1000, status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc(rvFeedPath, f.serve)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// URL of the feed endpoint.
func (f *rvFeed) feedURL() string { return f.Server.URL + rvFeedPath }

func (f *rvFeed) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	after := r.URL.Query().Get("after")
	f.afters = append(f.afters, after)
	if f.status != http.StatusOK {
		http.Error(w, "feed down", f.status)
		return
	}
	if f.raw != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.raw)
		return
	}
	from, reset := 0, true
	if epoch, seq, ok := strings.Cut(after, "."); ok && epoch == f.epoch {
		if n, err := strconv.Atoi(seq); err == nil && n >= 0 && n <= f.seq {
			from, reset = n, false
		}
	}
	type entry struct {
		JTI     string `json:"jti,omitempty"`
		GrantID string `json:"grant_id,omitempty"`
		Exp     int64  `json:"exp"`
	}
	page := struct {
		Cursor  string  `json:"cursor"`
		Reset   bool    `json:"reset"`
		More    bool    `json:"more"`
		Revoked []entry `json:"revoked"`
	}{Reset: reset, Revoked: []entry{}}
	last := from
	for _, e := range f.entries {
		if e.seq <= from {
			continue
		}
		if len(page.Revoked) == f.pageSize {
			page.More = true
			break
		}
		page.Revoked = append(page.Revoked, entry{e.jti, e.grantID, e.exp})
		last = e.seq
	}
	if !page.More {
		last = max(last, f.seq)
	}
	page.Cursor = f.epoch + "." + strconv.Itoa(last)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(page)
}

// revokeJTI and revokeGrant add an entry, kept until exp.
func (f *rvFeed) revokeJTI(jti string, exp time.Time) { f.add(rvEntry{jti: jti, exp: exp.Unix()}) }

func (f *rvFeed) revokeGrant(id string, exp time.Time) { f.add(rvEntry{grantID: id, exp: exp.Unix()}) }

func (f *rvFeed) add(e rvEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	e.seq = f.seq
	f.entries = append(f.entries, e)
}

// replaceStore starts a new epoch holding only entries: the store was
// replaced, every client must reset.
func (f *rvFeed) replaceStore(epoch string, entries ...rvEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch, f.seq, f.entries = epoch, 0, nil
	for _, e := range entries {
		f.seq++
		e.seq = f.seq
		f.entries = append(f.entries, e)
	}
}

func (f *rvFeed) setPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pageSize = n
}

func (f *rvFeed) setStatus(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

// setRaw makes the feed answer body as it is (nil: back to normal).
func (f *rvFeed) setRaw(body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.raw = body
}

// cursors returns the after parameters the feed was asked with.
func (f *rvFeed) cursors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.afters...)
}

// rvSetup is a protected API whose Middleware consults a Revocations set
// polled from a fake feed, on one injected clock.
type rvSetup struct {
	iss   *authtest.Issuer
	feed  *rvFeed
	rv    *middleware.Revocations
	clock *clock
	logs  *rmLog
	api   *httptest.Server
}

// rvStart builds the setup. MaxDelay defaults to an hour so that the
// background loop, on real time, never polls during a test: the test
// polls with middleware.PollRevocations. mutate changes the options.
func rvStart(t *testing.T, mutate func(*middleware.RevocationOptions)) *rvSetup {
	t.Helper()
	s := &rvSetup{iss: newIssuer(), feed: rvNewFeed(t), clock: newClock(testNow), logs: &rmLog{}}
	opts := middleware.RevocationOptions{MaxDelay: time.Hour, Now: s.clock.Now, Logger: s.logs.logger()}
	if mutate != nil {
		mutate(&opts)
	}
	rv, err := middleware.RevocationFeed(context.Background(), s.feed.feedURL(), opts)
	if err != nil {
		t.Fatalf("RevocationFeed: %v", err)
	}
	t.Cleanup(rv.Close)
	s.rv = rv
	mw := newMiddleware(t, s.iss, func(c *middleware.Config) {
		c.Revocations = rv
		c.Now = s.clock.Now
	})
	s.api = serve(t, mw.Authenticate(reached))
	return s
}

// poll polls the feed now and fails the test on an error.
func (s *rvSetup) poll(t *testing.T) {
	t.Helper()
	if err := middleware.PollRevocations(context.Background(), s.rv); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

// rvJTI reads a token's jti.
func rvJTI(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" {
		t.Fatalf("token without a jti: %v %s", err, payload)
	}
	return c.JTI
}

const reasonRevoked = "the token has been revoked"

// wantOK asserts a request went through.
func wantOK(t *testing.T, what string, res response) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200: %s", what, res.Status, res.Raw)
	}
}

// wantStale asserts the fail-closed answer: 503 temporarily_unavailable
// with Retry-After and no challenge.
func wantStale(t *testing.T, what string, res response, retryAfter string) {
	t.Helper()
	if res.Status != http.StatusServiceUnavailable || res.Body.Error != "temporarily_unavailable" {
		t.Fatalf("%s: status %d body %s, want 503 temporarily_unavailable", what, res.Status, res.Raw)
	}
	if got := res.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
	}
	if h := res.Header.Get("WWW-Authenticate"); h != "" {
		t.Errorf("%s: WWW-Authenticate %q on a 503", what, h)
	}
}

// rvCount counts the occurrences of msg in the logs.
func rvCount(logs *rmLog, msg string) int {
	return strings.Count(logs.String(), fmt.Sprintf("msg=%q", msg))
}
