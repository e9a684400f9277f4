package oautherr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// allowed reports whether c may appear in an error_description (RFC 6749
// §5.2: %x20-21 / %x23-5B / %x5D-7E).
func allowed(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)
}

// decodeBody reads a Write body strictly: one JSON object of strings.
func decodeBody(t *testing.T, raw string) map[string]string {
	t.Helper()
	var body map[string]string
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", raw, err)
	}
	if dec.More() {
		t.Fatalf("body %q has data after the object", raw)
	}
	return body
}

func TestWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		err        *Error
		status     int
		body       map[string]string
		wantHeader map[string][]string
	}{
		{
			name:   "invalid_request",
			err:    InvalidRequest("parameter %s is repeated", Quote("scope")),
			status: 400,
			body:   map[string]string{"error": "invalid_request", "error_description": "parameter 'scope' is repeated"},
		},
		{
			name:       "invalid_client with Basic",
			err:        InvalidClient(true, "client authentication failed"),
			status:     401,
			body:       map[string]string{"error": "invalid_client", "error_description": "client authentication failed"},
			wantHeader: map[string][]string{"Www-Authenticate": {`Basic realm="tollgate", charset="UTF-8"`}},
		},
		{
			name:       "invalid_client without Basic",
			err:        InvalidClient(false, "client authentication failed"),
			status:     401,
			body:       map[string]string{"error": "invalid_client", "error_description": "client authentication failed"},
			wantHeader: map[string][]string{"Www-Authenticate": nil},
		},
		{
			name:   "no description",
			err:    &Error{Status: 400, Code: CodeInvalidGrant},
			status: 400,
			body:   map[string]string{"error": "invalid_grant"},
		},
		{
			name: "extra headers",
			err: func() *Error {
				e := InvalidRequest("POST only")
				e.Status = http.StatusMethodNotAllowed
				return e.WithHeader("Allow", "POST").WithHeader("X-Test", "a").WithHeader("X-Test", "b")
			}(),
			status:     405,
			body:       map[string]string{"error": "invalid_request", "error_description": "POST only"},
			wantHeader: map[string][]string{"Allow": {"POST"}, "X-Test": {"a", "b"}},
		},
		{
			name: "an error cannot override the no-store headers",
			err: (&Error{Status: 429, Code: CodeTemporarilyUnavailable, Description: "slow down"}).
				WithHeader("Cache-Control", "public, max-age=60").WithHeader("Retry-After", "3"),
			status:     429,
			body:       map[string]string{"error": "temporarily_unavailable", "error_description": "slow down"},
			wantHeader: map[string][]string{"Cache-Control": {"no-store"}, "Retry-After": {"3"}},
		},
		{
			name:   "hostile description is sanitized",
			err:    InvalidRequest("parameter %s is repeated", Quote("a\"b\\c\nd\u00e9\u2028</script>")),
			status: 400,
			body:   map[string]string{"error": "invalid_request", "error_description": "parameter 'a'b?c?d?????</script>' is repeated"},
		},
		{
			name:   "server error hides its cause",
			err:    ServerError(),
			status: 500,
			body:   map[string]string{"error": "server_error", "error_description": "the server could not complete the request"},
		},
		{
			name:   "unavailable",
			err:    Unavailable("storage is down"),
			status: 503,
			body:   map[string]string{"error": "temporarily_unavailable", "error_description": "storage is down"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			Write(w, tc.err)
			res := w.Result()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			for k, want := range map[string]string{
				"Content-Type": "application/json;charset=UTF-8", "Cache-Control": "no-store", "Pragma": "no-cache",
			} {
				if got := res.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want [%q]", k, got, want)
				}
			}
			for k, want := range tc.wantHeader {
				got := res.Header.Values(k)
				if len(got) != len(want) || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			raw := w.Body.String()
			if !strings.HasSuffix(raw, "}\n") {
				t.Errorf("body %q does not end in one newline", raw)
			}
			body := decodeBody(t, raw)
			if len(body) != len(tc.body) {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			for k, want := range tc.body {
				if body[k] != want {
					t.Errorf("%s = %q, want %q", k, body[k], want)
				}
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    *Error
		status int
		code   string
	}{
		{InvalidRequest("x"), 400, "invalid_request"},
		{InvalidClient(false, "x"), 401, "invalid_client"},
		{InvalidGrant("x"), 400, "invalid_grant"},
		{UnauthorizedClient("x"), 400, "unauthorized_client"},
		{UnsupportedGrantType("x"), 400, "unsupported_grant_type"},
		{InvalidScope("x"), 400, "invalid_scope"},
		{InvalidTarget("x"), 400, "invalid_target"},
		{ServerError(), 500, "server_error"},
		{Unavailable("x"), 503, "temporarily_unavailable"},
	} {
		if tc.err.Status != tc.status || tc.err.Code != tc.code {
			t.Errorf("%v: status %d code %q, want %d %q", tc.err, tc.err.Status, tc.err.Code, tc.status, tc.code)
		}
	}
	if got := InvalidScope("scope %s of %d", Quote("a"), 2).Error(); got != "invalid_scope: scope 'a' of 2" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: "invalid_grant"}).Error(); got != "invalid_grant" {
		t.Errorf("Error() = %q", got)
	}
	// A format verb in client input is not interpreted: input goes in args.
	if got := InvalidRequest("parameter %s", Quote("%d%s")).Description; got != "parameter '%d%s'" {
		t.Errorf("Description = %q", got)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := Quote("scope"); got != "'scope'" {
		t.Errorf("Quote = %q", got)
	}
	long := strings.Repeat("a", 1000)
	if got := Quote(long); len(got) > 70 || !strings.HasSuffix(got, "...'") {
		t.Errorf("Quote(1000 bytes) = %q (%d bytes), want it shortened", got, len(got))
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                         "",
		"plain text 0-9 A-Z {|}~!": "plain text 0-9 A-Z {|}~!",
		`say "hi"`:                 "say 'hi'",
		`back\slash`:               "back?slash",
		"line\nbreak\r\ttab\x00":   "line?break??tab?",
		"caf\u00e9":                "caf??",
		"\x7f\x80\xff":             "???",
		"\u2028":                   "???",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Sanitize(strings.Repeat("x", 10_000)); len(got) != 300 {
		t.Errorf("Sanitize(10000 bytes) is %d bytes, want it cut to 300", len(got))
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "a\nb", "\u00e9\u2028\xff", strings.Repeat("\"", 400), "<script>&amp;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		if len(out) > 300 || len(out) > len(s) {
			t.Fatalf("Sanitize(%d bytes) is %d bytes", len(s), len(out))
		}
		for i := 0; i < len(out); i++ {
			if !allowed(out[i]) {
				t.Fatalf("Sanitize(%q) = %q holds %q", s, out, out[i])
			}
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("Sanitize is not idempotent: %q then %q", out, again)
		}
		// Clean text passes unchanged (up to the length bound).
		cleanIn := true
		for i := 0; i < len(s); i++ {
			cleanIn = cleanIn && allowed(s[i])
		}
		if cleanIn && len(s) <= 300 && out != s {
			t.Fatalf("Sanitize changed clean %q to %q", s, out)
		}

		// Whatever the description, Write sends valid JSON with it sanitized.
		w := httptest.NewRecorder()
		Write(w, InvalidRequest("parameter %s is bad", Quote(s)))
		body := decodeBody(t, w.Body.String())
		d := body["error_description"]
		if !utf8.ValidString(d) || body["error"] != CodeInvalidRequest {
			t.Fatalf("body %q", w.Body.String())
		}
		for i := 0; i < len(d); i++ {
			if !allowed(d[i]) {
				t.Fatalf("written description %q holds %q", d, d[i])
			}
		}
	})
}
