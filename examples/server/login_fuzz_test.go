package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// tagName finds the elements of an HTML page.
var tagName = regexp.MustCompile(`<(/?[A-Za-z!][A-Za-z0-9]*)`)

// FuzzLoginForm posts arbitrary form bodies to /login, with or without a
// valid CSRF token appended. Whatever the body: never a 5xx; a session
// only for alice's exact password; a redirect only to a return_to that
// validReturn accepts; and no element in the page that the template does
// not write itself, so nothing posted comes back as markup.
func FuzzLoginForm(f *testing.F) {
	const password = "alice-password"
	// A cheap argon2id hash (m=8 KiB, t=1): the Verifier's failures then
	// cost a run of the same cheap kind, and the fuzzer is not bound by
	// the default's 19 MiB per wrong password.
	salt := make([]byte, 16)
	rand.Read(salt)
	hash := fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(password), salt, 1, 8, 1, 32)))
	u, err := newUsers([]userConfig{{Username: "alice", PasswordHash: hash}})
	if err != nil {
		f.Fatal(err)
	}
	s, err := newSigner(false, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	p := &loginPage{users: u, signer: s, log: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	p.routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, loginPath, nil))
	csrf := rec.Result().Cookies()[0]
	token := s.csrfToken(csrf.Value)
	templateTags := map[string]bool{}
	for _, m := range tagName.FindAllStringSubmatch(pageTemplate.Tree.Root.String(), -1) {
		templateTags[m[1]] = true
	}

	for _, seed := range []struct {
		body string
		csrf bool
	}{
		{"username=alice&password=" + password, true},
		{"username=alice&password=" + password + "&return_to=%2Foauth%2Fauthorize%3Fclient_id%3Dweb", true},
		{"username=alice&password=" + password, false},
		{"username=alice&password=wrong", true},
		{"username=%3Cscript%3Ealert(1)%3C%2Fscript%3E&password=x&return_to=%2Foauth%2Fauthorize%3Fs%3D%22%3E%3Cb%3E", true},
		{"username=alice&username=bob&password=" + password, true},
		{"username=alice&password=" + password + "&return_to=%2F%2Fevil.example", true},
		{"username=alice&password=" + password + "&return_to=%2Foauth%2Fauthorize%3F%23%25", true},
		{"a=%zz&username=alice", true},
		{"username=alice;password=x", true},
		{"\x00\xff", false},
	} {
		f.Add([]byte(seed.body), seed.csrf)
	}
	f.Fuzz(func(t *testing.T, body []byte, withCSRF bool) {
		if withCSRF {
			body = append(body, "&"+csrfField+"="+token...)
		}
		req := httptest.NewRequest(http.MethodPost, loginPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(csrf)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		res := rec.Result()

		if res.StatusCode >= 500 {
			t.Fatalf("status %d for %q", res.StatusCode, body)
		}
		form, formErr := url.ParseQuery(string(body))
		for _, c := range res.Cookies() {
			if c.Name != sessionCookie || c.Value == "" {
				continue
			}
			if formErr != nil || form.Get("username") != "alice" || form.Get("password") != password || !withCSRF {
				t.Fatalf("a session for %q (form error %v, CSRF %v)", body, formErr, withCSRF)
			}
			back := httptest.NewRequest(http.MethodGet, "/", nil)
			back.AddCookie(c)
			if name, ok := s.session(back); !ok || name != "alice" {
				t.Fatalf("the session cookie signs in %q, %v", name, ok)
			}
		}
		if loc := res.Header.Get("Location"); loc != "" && (res.StatusCode != http.StatusSeeOther || !validReturn(loc) || loc != form.Get(returnToField)) {
			t.Fatalf("%d to %q for %q", res.StatusCode, loc, body)
		}
		for _, m := range tagName.FindAllStringSubmatch(rec.Body.String(), -1) {
			if !templateTags[m[1]] {
				t.Fatalf("the page holds <%s, which the template does not write, for %q:\n%s", m[1], body, rec.Body)
			}
		}
	})
}
