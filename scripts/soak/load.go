package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

// The demo config's parties (see writeConfig).
const (
	audience    = "https://api.example.com"
	svcID       = "svc"
	svcSecret   = "svc-soak-secret-value"
	spaID       = "spa"
	redirectURI = "http://127.0.0.1:9/cb"
	user        = "soak"
	password    = "soak-password"
)

// stats are the counts of one sampling interval; the load adds, the
// sampler swaps in a fresh one every interval.
type stats struct {
	mu         sync.Mutex
	requests   int
	status5xx  int
	connErrors int
	unexpected int             // a good request not answered 200, or a bad one answered 2xx
	good       []time.Duration // latencies of good requests
}

func (s *stats) add(good bool, status int, took time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch {
	case err != nil:
		s.connErrors++
	case status >= 500:
		s.status5xx++
	}
	if err == nil && good != (status == http.StatusOK) {
		s.unexpected++
	}
	if good && err == nil && status == http.StatusOK {
		s.good = append(s.good, took)
	}
}

// failed counts an unexpected answer outside the token endpoint.
func (s *stats) failed() {
	s.mu.Lock()
	s.unexpected++
	s.mu.Unlock()
}

// load drives the server at base until ctx ends.
type load struct {
	base   string
	client *http.Client
	cur    func() *stats // the interval's stats
}

// token posts a token request and records it as good or bad. It returns
// the decoded answer of a 200.
func (l *load) token(ctx context.Context, good bool, contentType string, body io.Reader, basic [2]string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+handler.TokenPath, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if basic[0] != "" {
		req.SetBasicAuth(basic[0], basic[1])
	}
	start := time.Now()
	res, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.cur().add(good, 0, 0, err)
		}
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	took := time.Since(start)
	if ctx.Err() != nil {
		return nil, ctx.Err() // cut short by the end of the run: not counted
	}
	l.cur().add(good, res.StatusCode, took, err)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: %d %.200s", res.StatusCode, data)
	}
	var out map[string]any
	return out, json.Unmarshal(data, &out)
}

const form = "application/x-www-form-urlencoded"

// clientCredentials: one good machine token.
func (l *load) clientCredentials(ctx context.Context) {
	l.token(ctx, true, form, strings.NewReader("grant_type=client_credentials"), [2]string{svcID, svcSecret})
}

// bad sends request i of the bad mix: a wrong secret, random bytes, bad
// JSON, a 100 KB body, a malformed Basic header.
func (l *load) bad(ctx context.Context, i int) {
	switch i % 5 {
	case 0:
		l.token(ctx, false, form, strings.NewReader("grant_type=client_credentials"), [2]string{svcID, "wrong-" + svcSecret})
	case 1:
		junk := make([]byte, 512)
		rand.Read(junk)
		l.token(ctx, false, form, strings.NewReader(string(junk)), [2]string{})
	case 2:
		l.token(ctx, false, "application/json", strings.NewReader(`{"grant_type":"client_credentials","client_id":`), [2]string{})
	case 3:
		l.token(ctx, false, form, strings.NewReader("grant_type=client_credentials&x="+strings.Repeat("a", 100<<10)), [2]string{svcID, svcSecret})
	case 4:
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.base+handler.TokenPath, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", form)
		req.Header.Set("Authorization", "Basic %%%not-base64")
		start := time.Now()
		res, err := l.client.Do(req)
		if ctx.Err() != nil {
			return
		}
		status := 0
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			status = res.StatusCode
		}
		l.cur().add(false, status, time.Since(start), err)
	}
}

// refreshChain signs the user in once (authorization code with PKCE) and
// then rotates the refresh token on every call, as a long-lived app does.
type refreshChain struct {
	l       *load
	refresh string
}

func (c *refreshChain) next(ctx context.Context) error {
	if c.refresh == "" {
		rt, err := c.l.signIn(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.l.cur().failed() // its page steps are not requests under soak, but must work
			}
			return err
		}
		c.refresh = rt
		return nil
	}
	out, err := c.l.token(ctx, true, form, strings.NewReader(url.Values{"grant_type": {"refresh_token"},
		"client_id": {spaID}, "refresh_token": {c.refresh}}.Encode()), [2]string{})
	c.refresh, _ = out["refresh_token"].(string) // on failure: sign in again
	return err
}

var hiddenField = regexp.MustCompile(`name="(csrf_token|return_to)" value="([^"]*)"`)

// The demo's consent form: its hidden fields and its scope checkboxes.
var (
	consentHidden = regexp.MustCompile(`<input type="hidden" name="(csrf_token|ticket)" value="([^"]*)">`)
	consentScope  = regexp.MustCompile(`<input type="checkbox" name="scope" value="([^"]*)" checked>`)
)

// signIn walks the browser flow: authorize, the login form, back to
// authorize, the code, the exchange. It returns a refresh token. The
// steps before the exchange are not counted: they are pages, not the
// token endpoint under soak.
func (l *load) signIn(ctx context.Context) (string, error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: l.client.Transport, Timeout: l.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := make([]byte, 32)
	rand.Read(verifier)
	v := base64.RawURLEncoding.EncodeToString(verifier)
	sum := sha256.Sum256([]byte(v))
	authURL := l.base + handler.AuthorizePath + "?" + url.Values{"response_type": {"code"}, "client_id": {spaID},
		"redirect_uri": {redirectURI}, "state": {"soak-state-" + v[:8]},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}.Encode()
	step := func(method, target string, body url.Values) (*http.Response, string, error) {
		var r io.Reader
		if body != nil {
			r = strings.NewReader(body.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target, r)
		if err != nil {
			return nil, "", err
		}
		if body != nil {
			req.Header.Set("Content-Type", form)
		}
		res, err := browser.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		page, err := io.ReadAll(res.Body)
		return res, string(page), err
	}
	res, _, err := step(http.MethodGet, authURL, nil)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusFound {
		return "", fmt.Errorf("authorize before sign-in: %d, want 302 to /login", res.StatusCode)
	}
	res, page, err := step(http.MethodGet, l.base+res.Header.Get("Location"), nil)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login page: %d", res.StatusCode)
	}
	fields := url.Values{"username": {user}, "password": {password}}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		fields.Set(m[1], html.UnescapeString(m[2]))
	}
	if res, _, err = step(http.MethodPost, l.base+"/login", fields); err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("sign-in: %d", res.StatusCode)
	}
	if res, page, err = step(http.MethodGet, l.base+res.Header.Get("Location"), nil); err != nil {
		return "", err
	}
	// The demo asks a native app (this public client on a loopback
	// redirect URI) for consent every time: approve every scope offered.
	if res.StatusCode == http.StatusOK && strings.Contains(page, `action="/consent"`) {
		answer := url.Values{"action": {"allow"}}
		for _, m := range consentHidden.FindAllStringSubmatch(page, -1) {
			answer.Set(m[1], html.UnescapeString(m[2]))
		}
		for _, m := range consentScope.FindAllStringSubmatch(page, -1) {
			answer.Add("scope", html.UnescapeString(m[1]))
		}
		if res, _, err = step(http.MethodPost, l.base+"/consent", answer); err != nil {
			return "", err
		}
		if res.StatusCode != http.StatusSeeOther {
			return "", fmt.Errorf("consent: %d, want 303", res.StatusCode)
		}
		if res, _, err = step(http.MethodGet, l.base+res.Header.Get("Location"), nil); err != nil {
			return "", err
		}
	}
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		return "", fmt.Errorf("authorize after sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	out, err := l.token(ctx, true, form, strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "client_id": {spaID},
		"code": {back.Query().Get("code")}, "redirect_uri": {redirectURI}, "code_verifier": {v}}.Encode()), [2]string{})
	if err != nil {
		return "", err
	}
	rt, _ := out["refresh_token"].(string)
	if rt == "" {
		return "", errors.New("code exchange: no refresh token")
	}
	return rt, nil
}

// run paces one worker at every: even workers ask for machine tokens, odd
// ones rotate a refresh chain. Worker -1 sends the bad mix, alone, so that
// wrong secrets (each one a slow hash) never queue up past the server's
// slow-hash cap, whose 503 is load shedding, not a fault under soak.
func (l *load) run(ctx context.Context, worker int, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	chain := &refreshChain{l: l}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		switch {
		case worker < 0:
			l.bad(ctx, i)
		case worker%2 == 0:
			l.clientCredentials(ctx)
		default:
			chain.next(ctx)
		}
	}
}
