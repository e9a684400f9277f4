package middleware

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// feedPage is one answer of a tollgate revocation feed:
//
//	{"cursor":"<opaque>","reset":false,"more":false,
//	 "revoked":[{"jti":"…","exp":1795435200},{"grant_id":"…","exp":1795438800}]}
//
// cursor is what to send as ?after= next; reset says the page starts the
// whole list again (the client replaces its set); more says another page
// follows at once.
type feedPage struct {
	Cursor  string
	Reset   bool
	More    bool
	Revoked []feedEntry
}

// feedEntry revokes one token (JTI) or every token of a grant (GrantID),
// until Exp, the latest expiry of what it covers.
type feedEntry struct {
	JTI     string
	GrantID string
	Exp     int64 // Unix seconds
}

// Bounds of a feed page's values, beyond the size of the page itself.
const (
	maxCursorBytes = 256
	maxIDBytes     = 512
	maxFeedExp     = 1e11 // as for a token's exp: past this it is not a date
)

// parseFeedPage reads a feed page strictly: a JSON object with a cursor of
// visible ASCII, and entries that each name a jti or a grant_id (or both)
// of bounded length and an exp in Unix seconds. Duplicate member names,
// invalid UTF-8, wrong types and trailing data are refused; unknown
// members are ignored, so the feed can grow.
func parseFeedPage(data []byte) (*feedPage, error) {
	var doc struct {
		Cursor  *string `json:"cursor"`
		Reset   bool    `json:"reset"`
		More    bool    `json:"more"`
		Revoked []*struct {
			JTI     string `json:"jti"`
			GrantID string `json:"grant_id"`
			Exp     *int64 `json:"exp"`
		} `json:"revoked"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a revocation feed page: %w", err)
	}
	if err := checkFeedNames(data); err != nil {
		return nil, err
	}
	if doc.Cursor == nil || !validCursor(*doc.Cursor) {
		return nil, errors.New("the page has no valid cursor")
	}
	if doc.More && len(doc.Revoked) == 0 {
		return nil, errors.New("the page says more follows but holds no entry")
	}
	p := &feedPage{Cursor: *doc.Cursor, Reset: doc.Reset, More: doc.More, Revoked: make([]feedEntry, 0, len(doc.Revoked))}
	for i, e := range doc.Revoked {
		switch {
		case e == nil:
			return nil, fmt.Errorf("entry %d is null", i)
		case e.JTI == "" && e.GrantID == "":
			return nil, fmt.Errorf("entry %d names no jti nor grant_id", i)
		case len(e.JTI) > maxIDBytes || len(e.GrantID) > maxIDBytes:
			return nil, fmt.Errorf("entry %d has an id longer than %d bytes", i, maxIDBytes)
		case e.Exp == nil || *e.Exp <= 0 || *e.Exp > maxFeedExp:
			return nil, fmt.Errorf("entry %d has no exp in Unix seconds", i)
		}
		p.Revoked = append(p.Revoked, feedEntry{JTI: e.JTI, GrantID: e.GrantID, Exp: *e.Exp})
	}
	return p, nil
}

// checkFeedNames refuses a member named like one the page defines but in
// other letter case ("Revoked"). Names are matched exactly, so such a
// member would be skipped, and the revocations in it silently lost, while
// a decoder that matches names without case (encoding/json's) would read
// them: two readings of one page. It runs after Unmarshal accepted data.
func checkFeedNames(data []byte) error {
	var doc map[string]jsontext.Value
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not a revocation feed page: %w", err)
	}
	if err := caseVariant(doc, "cursor", "reset", "more", "revoked"); err != nil {
		return err
	}
	var entries []map[string]jsontext.Value
	if raw, ok := doc["revoked"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return fmt.Errorf("not a revocation feed page: %w", err)
		}
	}
	for i, e := range entries {
		if err := caseVariant(e, "jti", "grant_id", "exp"); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// caseVariant reports a member of obj that is one of names in other
// letter case.
func caseVariant(obj map[string]jsontext.Value, names ...string) error {
	for member := range obj {
		for _, name := range names {
			if member != name && strings.EqualFold(member, name) {
				return fmt.Errorf("member %q is not %q: names are case-sensitive", member, name)
			}
		}
	}
	return nil
}

// validCursor: 1 to maxCursorBytes of visible ASCII. The cursor is opaque,
// but it goes back into a URL.
func validCursor(s string) bool {
	if s == "" || len(s) > maxCursorBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
