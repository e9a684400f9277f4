package handler

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/feedcursor"
	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The revocation feed: GET /oauth/revocations?after=<cursor> answers what
// has been revoked since the cursor (everything, without one), so that
// resource servers can refuse revoked JWTs without asking per request.
// Entries are revoked jtis and revoked grant families (a token's grant_id
// claim), each kept until the latest expiry of what it covers. The feed is
// public, like the JWKS: a jti or grant id tells nothing about the token.
//
//	{"cursor":"<epoch>.<seq>","reset":false,"more":false,
//	 "revoked":[{"jti":"…","exp":1795435200},{"grant_id":"…","exp":1795438800}]}
//
// reset: the answer is everything currently revoked (no cursor, or one of
// another store's feed, or one ahead of it: a database restored from a
// backup): the client replaces its set. more: the page was full; ask
// again at once.

// feedPageSize bounds an answer.
const feedPageSize = 1000

// revocationGrace keeps a feed entry past its exp: the longest leeway
// tollgate's middleware accepts (its own copy of the same rule).
const revocationGrace = 5 * time.Minute

type feedAnswer struct {
	Cursor  string         `json:"cursor"`
	Reset   bool           `json:"reset"`
	More    bool           `json:"more"`
	Revoked []revokedEntry `json:"revoked"`
}

type revokedEntry struct {
	JTI     string `json:"jti,omitempty"`
	GrantID string `json:"grant_id,omitempty"`
	Exp     int64  `json:"exp"`
}

func (s *Server) serveRevocations(w http.ResponseWriter, r *http.Request) (answer, error) {
	if e := allowOnly(r, http.MethodGet, http.MethodHead); e != nil {
		return answer{}, e
	}
	ctx := r.Context()
	if e := s.limitByIP(ctx, s.ips.Key(r)); e != nil {
		return answer{}, e
	}
	after, e := feedAfter(r.URL.RawQuery)
	if e != nil {
		return answer{}, e
	}
	// Entries are served until revocationGrace past their exp: a resource
	// server accepts a token a little past its exp (its leeway), so one
	// that starts over from the feed must still learn of the revocation.
	now := s.cfg.Now().Add(-revocationGrace)
	reset := after == nil
	var from uint64
	if !reset {
		from = after.Seq
	}
	page, err := s.tokens.Revocations(ctx, from, now, feedPageSize)
	if err == nil && !reset && (after.Epoch != cursorEpoch(page.Epoch) || after.Seq > page.Last) {
		reset = true
		page, err = s.tokens.Revocations(ctx, 0, now, feedPageSize)
	}
	if err != nil {
		return answer{}, provider.StorageFailure(err)
	}
	s.maybePurge()
	body, err := json.Marshal(feedPage(page, reset))
	if err != nil {
		return answer{}, &provider.Internal{Err: err}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
	return answer{}, nil
}

// feedAfter reads the after parameter: nil when absent or empty.
func feedAfter(rawQuery string) (*feedcursor.Cursor, *oautherr.Error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, oautherr.InvalidRequest("the query string is malformed")
	}
	switch v := q["after"]; {
	case len(v) > 1:
		return nil, oautherr.InvalidRequest("the after parameter is repeated")
	case len(v) == 0 || v[0] == "":
		return nil, nil
	}
	c, err := feedcursor.Parse(q.Get("after"))
	if err != nil {
		return nil, oautherr.InvalidRequest("the after parameter is not a cursor of this feed; omit it to start over")
	}
	return &c, nil
}

// feedPage renders a page. The cursor covers everything up to the store's
// newest entry, unless the page is full: then it stops at the last entry
// given, and more says to ask again.
func feedPage(page *storage.RevocationPage, reset bool) feedAnswer {
	out := feedAnswer{Reset: reset, Revoked: make([]revokedEntry, 0, len(page.Entries))}
	next := page.Last
	if len(page.Entries) >= feedPageSize {
		out.More, next = true, page.Entries[len(page.Entries)-1].Seq
	}
	for _, e := range page.Entries {
		exp := e.ExpiresAt.Unix()
		if e.ExpiresAt.Nanosecond() > 0 {
			exp++ // never drop an entry before what it covers expires
		}
		out.Revoked = append(out.Revoked, revokedEntry{JTI: e.JTI, GrantID: e.GrantID, Exp: exp})
	}
	out.Cursor = feedcursor.Cursor{Epoch: cursorEpoch(page.Epoch), Seq: next}.String()
	return out
}

// cursorEpoch is the store's epoch as it appears in cursors: hashed, so
// that whatever a store uses for one, the cursor stays in the alphabet
// feedcursor accepts.
func cursorEpoch(epoch string) string {
	sum := sha256.Sum256([]byte(epoch))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
