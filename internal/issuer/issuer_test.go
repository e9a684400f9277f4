package issuer

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, err string }{
		{"https://as.example", ""},
		{"https://as.example/", ""},
		{"http://127.0.0.1:8080/", ""},
		{"https://as.example/tenant", ""},
		{"", "required"},
		{"localhost:9090", `did you mean "https://localhost:9090"?`},
		{"as.example", `did you mean "https://as.example"?`},
		{"ftp://as.example", "absolute http(s) URL"},
		{"https://", "absolute http(s) URL"},
		{"https://as.example?x=1", "no query"},
		{"https://as.example?", "no query"},
		{"https://as.example#f", "no query, fragment"},
		{"https://u:p@as.example", "user info"},
		{"https://as.example/\x00", "absolute http(s) URL"},
	} {
		err := Check(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Check(%q) = %v, want an error with %q", c.in, err, c.err)
		}
	}
}

func TestMismatch(t *testing.T) {
	t.Parallel()
	got := Mismatch("http://127.0.0.1:8080", "http://127.0.0.1:8080/")
	for _, want := range []string{`"http://127.0.0.1:8080"`, `"http://127.0.0.1:8080/"`, "only by a trailing slash"} {
		if !strings.Contains(got, want) {
			t.Errorf("Mismatch = %q, want it to contain %q", got, want)
		}
	}
	if got := Mismatch("https://evil.example", "https://as.example"); strings.Contains(got, "slash") {
		t.Errorf("Mismatch of two hosts blames the slash: %q", got)
	}
}

// FuzzCheck: whatever Check accepts parses as an absolute http(s) URL
// with a host and no query, fragment or user info, and so does its
// canonical form.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"https://as.example/", "localhost:9090", "http://[::1]:8080/x/", "https://a?#", "https://a/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Check(s) != nil {
			return
		}
		for _, v := range []string{s, Canonical(s)} {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				t.Fatalf("Check accepted %q, whose form %q is %+v, %v", s, v, u, err)
			}
		}
	})
}
