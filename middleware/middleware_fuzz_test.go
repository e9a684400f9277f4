package middleware

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzBearerToken: bearerToken never panics; a token it returns is
// exactly what follows "Bearer " in the one Authorization header (or,
// when allowed, the one access_token query parameter), within the size
// limit; a refusal is a 400 invalid_request or a 401.
func FuzzBearerToken(f *testing.F) {
	ks, err := LocalKeys([]byte(jwksSeeds(f)[0]))
	if err != nil {
		f.Fatal(err)
	}
	mws := map[bool]*Middleware{}
	for _, allowQuery := range []bool{false, true} {
		m, err := New(Config{Issuer: "https://issuer.example", Audience: "https://api.example", Keys: ks,
			MaxTokenBytes: 64, AllowQueryToken: allowQuery})
		if err != nil {
			f.Fatal(err)
		}
		mws[allowQuery] = m
	}
	for _, s := range []struct {
		header, query string
		allow         bool
	}{
		{"Bearer abc.def.ghi", "", false},
		{"bearer abc", "", false},
		{"BEARER  abc", "", false},
		{"Bearer\tabc", "", false},
		{"Basic YTpi", "", false},
		{"Bearer ", "", false},
		{"Bearer " + strings.Repeat("a", 65), "", false},
		{"Bearer abc\nBearer def", "", false},
		{"Bearer abc", "access_token=abc", true},
		{"", "access_token=abc", true},
		{"", "access_token=abc&access_token=def", true},
		{"", "access_token=a%20b", true},
		{"", "access_token=abc", false},
		{"", "access_token=%zz", true},
	} {
		f.Add(s.header, s.query, s.allow)
	}
	f.Fuzz(func(t *testing.T, header, query string, allowQuery bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		var headers []string
		if header != "" {
			// One header per line, as a client may send it repeated.
			headers = strings.Split(header, "\n")
			for _, h := range headers {
				r.Header.Add("Authorization", h)
			}
		}
		m := mws[allowQuery]
		token, e := m.bearerToken(r)
		if e != nil {
			if token != "" {
				t.Fatalf("a token %q and an error %v together", token, e)
			}
			if !(e.Status == http.StatusBadRequest && e.Code == CodeInvalidRequest) &&
				!(e.Status == http.StatusUnauthorized && (e.Code == "" || e.Code == CodeInvalidToken)) {
				t.Fatalf("refused with %d %q", e.Status, e.Code)
			}
			return
		}
		if token == "" || len(token) > m.cfg.MaxTokenBytes {
			t.Fatalf("token %q of %d bytes accepted", token, len(token))
		}
		q, _ := url.ParseQuery(query)
		switch {
		case len(headers) == 1:
			scheme, rest, _ := strings.Cut(headers[0], " ")
			if !strings.EqualFold(scheme, "bearer") || rest != token || q.Has("access_token") {
				t.Fatalf("header %q (query %q) gave token %q", headers[0], query, token)
			}
		case len(headers) == 0 && allowQuery:
			if v := q["access_token"]; len(v) != 1 || v[0] != token || !validToken68(token) {
				t.Fatalf("query %q gave token %q", query, token)
			}
		default:
			t.Fatalf("headers %q, query %q (allowed %v) gave token %q", headers, query, allowQuery, token)
		}
	})
}
