package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// TestRevocationsHostileFeed: a feed answering malformed, wrongly typed,
// oversized or looping documents fails the poll and changes nothing: the
// last set keeps serving, no request gets a 500, and the feed is read
// again normally once it behaves.
func TestRevocationsHostileFeed(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{}
	for name, body := range middleware.RefusedFeedPages() {
		cases[name] = []byte(body)
	}
	cases["larger than MaxBytes"] = []byte(`{"cursor":"e1.2","revoked":[` + strings.Repeat(`{"jti":"x","exp":1},`, 1<<10) + `{"jti":"y","exp":1}]}`)
	cases["more with a cursor that does not move"] = []byte(`{"cursor":"e1.1","more":true,"revoked":[{"jti":"z","exp":1795435200}]}`)
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := rvStart(t, func(o *middleware.RevocationOptions) { o.MaxBytes = 16 << 10; o.FailClosed = true })
			revoked, good := s.iss.Token(), s.iss.Token()
			s.feed.revokeJTI(rvJTI(t, revoked), testNow.Add(time.Hour))
			s.poll(t)
			before := middleware.RevocationsLen(s.rv)

			s.feed.setRaw(body)
			s.clock.Advance(time.Minute)
			err := middleware.PollRevocations(context.Background(), s.rv)
			if err == nil {
				t.Fatal("the poll accepted the document")
			}
			if n := middleware.RevocationsLen(s.rv); n != before {
				t.Errorf("%d entries after a refused page, want %d", n, before)
			}
			wantInvalidToken(t, get(t, s.api.URL, revoked), reasonRevoked)
			wantOK(t, "good token", get(t, s.api.URL, good))

			s.feed.setRaw(nil)
			late := s.iss.Token()
			s.feed.revokeJTI(rvJTI(t, late), testNow.Add(time.Hour))
			s.poll(t)
			wantInvalidToken(t, get(t, s.api.URL, late), reasonRevoked)
			wantOK(t, "good token once the feed behaves", get(t, s.api.URL, good))
		})
	}
}

// TestRevocationsConcurrentPolls: requests read the set while polls
// publish new ones (run with -race): every answer is 200 or 401, never an
// error of the server.
func TestRevocationsConcurrentPolls(t *testing.T) {
	t.Parallel()
	s := rvStart(t, nil)
	toks := make([]string, 8)
	for i := range toks {
		toks[i] = s.iss.Token()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	done := make(chan struct{})
	errs := make(chan string, len(toks))
	for _, tok := range toks {
		go func() {
			for {
				select {
				case <-done:
					errs <- ""
					return
				default:
				}
				res, err := rmTryGet(client, s.api.URL, tok)
				if err != nil || (res.Status != http.StatusOK && res.Status != http.StatusUnauthorized) {
					errs <- res.Raw
					return
				}
			}
		}()
	}
	for i, tok := range toks {
		s.feed.revokeJTI(rvJTI(t, tok), testNow.Add(time.Hour))
		if i%3 == 0 {
			s.feed.replaceStore("e"+string(rune('a'+i)), rvEntry{jti: rvJTI(t, tok), exp: testNow.Add(time.Hour).Unix()})
		}
		s.poll(t)
	}
	close(done)
	for range toks {
		if e := <-errs; e != "" {
			t.Errorf("unexpected answer: %s", e)
		}
	}
	wantInvalidToken(t, get(t, s.api.URL, toks[len(toks)-1]), reasonRevoked)
}
