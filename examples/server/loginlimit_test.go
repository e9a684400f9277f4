//go:build unix

package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// loginFrom signs in at base as user from ip (X-Forwarded-For: the config
// trusts 127.0.0.1 as a proxy), in a fresh browser, and returns the reply.
func loginFrom(t *testing.T, base, ip, user, password string) reply {
	t.Helper()
	b := browser(t)
	form := openLoginForm(t, b, base, "")
	form.Set("username", user)
	form.Set("password", password)
	req, err := http.NewRequest(http.MethodPost, base+loginPath, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(body), resp.Cookies()}
}

// randomAddr is an address of a random /64 (documentation prefix): the
// per-address budget is kept per /64, and in a shared Redis other runs'
// counts must not matter.
func randomAddr() string {
	var a [16]byte
	rand.Read(a[4:8])
	a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
	a[15] = 1
	return netip.AddrFrom16(a).String()
}

// guessStep is one sign-in attempt of a guessing scenario.
type guessStep struct {
	at       int // which server (index into the bases)
	from     int // which address (index into the addresses)
	password string
	want     int
}

// twoAddressGuesses: with a budget of 3 failures per address and per
// username, two addresses guessing one username get 429 at the fourth
// failure although neither address has used its own budget, and then the
// right password is refused too, from a third address. The refusal says
// the username's budget is spent.
func twoAddressGuesses(right string) []guessStep {
	return []guessStep{
		{0, 0, "wrong-1", 401},
		{1, 0, "wrong-2", 401},
		{0, 1, "wrong-3", 401},
		{1, 1, "wrong-4", 429},
		{0, 2, right, 429},
	}
}

func runGuesses(t *testing.T, bases []string, user string, steps []guessStep) {
	t.Helper()
	addrs := []string{randomAddr(), randomAddr(), randomAddr()}
	for i, st := range steps {
		r := loginFrom(t, bases[st.at], addrs[st.from], user, st.password)
		if r.status != st.want {
			t.Fatalf("%s, attempt %d (server %d, address %d): %d, want %d", user, i+1, st.at, st.from, r.status, st.want)
		}
		switch r.status {
		case http.StatusTooManyRequests:
			if !strings.Contains(r.body, "for this username") || r.header.Get("Retry-After") == "" || r.setCookie(sessionCookie) != nil {
				t.Errorf("%s, attempt %d: 429 without the username refusal, a Retry-After, or with a session", user, i+1)
			}
		case http.StatusUnauthorized:
			if !strings.Contains(r.body, "Wrong username or password") {
				t.Errorf("%s, attempt %d: 401 body %.200q", user, i+1, r.body)
			}
		}
	}
}

// limitConfig writes a config with a login budget of 3 per address and
// per username, trusting 127.0.0.1 for X-Forwarded-For, with users
// alice<suffix> and bob<suffix>, and extra YAML (a rate_limits.store).
func limitConfig(t *testing.T, suffix, store string) string {
	t.Helper()
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`
listen: 127.0.0.1:0
storage: memory
keys: [{kid: k1, alg: EdDSA}]
trusted_proxies: [127.0.0.1/32]
rate_limits: {login: 3-M%s}
users:
  - {username: alice%s, password: alice-password}
  - {username: bob%s, password: bob-password}
`, store, suffix, suffix))
}

// TestLoginLimitPerUser: failed sign-ins are counted per username as well
// as per address, unknown usernames too, so guessing one user's password
// from many addresses is bounded, and a 429 does not tell whether a
// username exists. Other users are not touched.
func TestLoginLimitPerUser(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", limitConfig(t, "", ""))
	bases := []string{s.url, s.url}
	t.Run("guessing", func(t *testing.T) {
		for _, user := range []string{"alice", "no-such-user"} {
			t.Run(user, func(t *testing.T) {
				t.Parallel()
				runGuesses(t, bases, user, twoAddressGuesses("alice-password"))
			})
		}
	})
	// After the guessing: bob's budget is his own.
	runGuesses(t, bases, "bob", []guessStep{{0, 0, "wrong", 401}, {1, 1, "wrong", 401}})
	if r := loginFrom(t, s.url, randomAddr(), "bob", "bob-password"); r.status != http.StatusOK || r.setCookie(sessionCookie) == nil {
		t.Errorf("bob's right password: %d, want 200 and a session", r.status)
	}
}

// TestLoginLimitShared: with rate_limits.store on Redis, two demo
// processes count one budget per username: guesses spread over both
// instances and two addresses are refused at the same count as on one.
func TestLoginLimitShared(t *testing.T) {
	t.Parallel()
	redisURL := redisURL(t)
	// Usernames are fresh per run: the shared Redis keeps counts by name.
	suffix := "-" + strings.ToLower(rand.Text()[:8])
	cfg := limitConfig(t, suffix, ", store: "+redisURL)
	env := []string{"TOLLGATE_RUN_MAIN=-config " + cfg}
	bases := []string{startProcess(t, env), startProcess(t, env)}
	if bases[0] == "" || bases[1] == "" {
		t.FailNow()
	}
	for _, user := range []string{"alice" + suffix, "nobody" + suffix} {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			runGuesses(t, bases, user, twoAddressGuesses("alice-password"))
		})
	}
}

// TestLoginLimitParallelGuesses: guesses at one username sent all at once,
// each from its own address, are bounded by the username's budget: each is
// counted before its password is checked, so exactly the budget's worth
// reach the check and the rest are refused.
func TestLoginLimitParallelGuesses(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-config", limitConfig(t, "", ""))
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses <- loginFrom(t, s.url, randomAddr(), "alice", fmt.Sprintf("guess-%d", i)).status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusUnauthorized] != 3 || count[http.StatusTooManyRequests] != n-3 {
		t.Errorf("%d parallel guesses: %v, want 3 checked (401) and %d refused (429)", n, count, n-3)
	}
}

// TestLoginLimitStoreDown: when the Redis holding the counters refuses
// connections, rate_limits.on_store_error decides: open lets sign-ins
// through uncounted, closed answers 503 and signs nobody in.
func TestLoginLimitStoreDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now
	for _, tc := range []struct {
		onError      string
		right, wrong int
	}{
		{"open", http.StatusOK, http.StatusUnauthorized},
		{"closed", http.StatusServiceUnavailable, http.StatusServiceUnavailable},
	} {
		t.Run(tc.onError, func(t *testing.T) {
			t.Parallel()
			s := start(t, nil, "-config", limitConfig(t, "", ", store: "+down+", on_store_error: "+tc.onError))
			for range 4 { // past the budget of 3, were it counted
				if r := loginFrom(t, s.url, randomAddr(), "alice", "wrong"); r.status != tc.wrong {
					t.Fatalf("wrong password: %d, want %d", r.status, tc.wrong)
				}
			}
			r := loginFrom(t, s.url, randomAddr(), "alice", "alice-password")
			if r.status != tc.right || (r.setCookie(sessionCookie) != nil) != (tc.right == http.StatusOK) {
				t.Errorf("right password: %d, cookies %v; want %d", r.status, r.set, tc.right)
			}
		})
	}
}
