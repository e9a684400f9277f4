package accesstoken

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/scope"
)

// registered is the reference for [Claims.appendRegistered]: the wire form
// of the claims tollgate owns as encoding/json writes it. aud is a string
// for one audience (the common case, as RFC 9068's examples have it) and
// an array for several.
type registered struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	SubjectType string `json:"sub_type,omitempty"`
	Audience    any    `json:"aud"`
	Expiry      int64  `json:"exp"`
	IssuedAt    int64  `json:"iat"`
	NotBefore   int64  `json:"nbf"`
	ID          string `json:"jti"`
	ClientID    string `json:"client_id"`
	Scope       string `json:"scope"`
	GrantID     string `json:"grant_id,omitempty"`
}

func marshalRegistered(t *testing.T, c *Claims) string {
	t.Helper()
	var aud any = c.Audience
	if len(c.Audience) == 1 {
		aud = c.Audience[0]
	}
	out, err := json.Marshal(registered{
		Issuer: c.Issuer, Subject: c.Subject, SubjectType: c.SubjectType, Audience: aud,
		Expiry: c.Expiry.Unix(), IssuedAt: c.IssuedAt.Unix(), NotBefore: c.IssuedAt.Unix(),
		ID: c.ID, ClientID: c.ClientID, Scope: scope.Join(c.Scopes), GrantID: c.GrantID,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// appendRegistered must write byte for byte what json.Marshal writes for
// the same claims: omitted fields, one or several or no audiences, escapes.
func TestAppendRegisteredMatchesMarshal(t *testing.T) {
	t.Parallel()
	at := time.Unix(1764892800, 0)
	for _, c := range []Claims{
		{},
		{Issuer: "https://auth.example.com", Subject: "orders-sync", SubjectType: SubjectClient, Audience: []string{"https://api.example.com"},
			ClientID: "orders-sync", Scopes: []string{"orders:read", "orders:write"}, IssuedAt: at, Expiry: at.Add(time.Hour), ID: "jti-1"},
		{Issuer: "i", Subject: "alice", Audience: []string{"a", "b"}, GrantID: "fam_1", IssuedAt: at.Add(-time.Hour * 24 * 365 * 60), Expiry: at},
		{Audience: []string{}, Scopes: []string{}},
		{Issuer: `quote" back\slash`, Subject: "<script>&amp;", Audience: []string{"caf\u00e9 \u2028", "\xff\xfe"}, ClientID: "nul\x00 del\x7f", ID: "tab\there"},
	} {
		want := marshalRegistered(t, &c)
		if got := string(c.appendRegistered(nil)); got != want {
			t.Errorf("appendRegistered(%+v)\n got %s\nwant %s", c, got, want)
		}
	}
}

func FuzzAppendRegistered(f *testing.F) {
	f.Add("https://auth.example.com", "orders-sync", "client", "https://api.example.com", "orders:read orders:write", "jti", "", int64(1764892800), uint8(1))
	f.Add(`"\`, "<>&", "", "\u2028\xff", "\x00", "", "fam", int64(-1), uint8(0))
	f.Add("", "", "", "a\nb", "", "", "", int64(0), uint8(3))
	f.Fuzz(func(t *testing.T, iss, sub, subType, aud, scopes, jti, grant string, unix int64, nAud uint8) {
		c := Claims{
			Issuer: iss, Subject: sub, SubjectType: subType, ClientID: sub, ID: jti, GrantID: grant,
			Scopes: strings.Fields(scopes), IssuedAt: time.Unix(unix/2, 0), Expiry: time.Unix(unix, 0),
		}
		// nAud picks nil, one, or several audiences: each is its own shape.
		if n := int(nAud % 4); n > 0 {
			c.Audience = strings.SplitN(aud, "\n", n)
		}
		if got, want := string(c.appendRegistered(nil)), marshalRegistered(t, &c); got != want {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
