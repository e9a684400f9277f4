package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var opsLine = regexp.MustCompile(`operations \(/healthz, /readyz, /metrics\) on (http://\S+)`)

// opsURL is the operations address the server printed.
func opsURL(t *testing.T, s *server) string {
	t.Helper()
	m := opsLine.FindStringSubmatch(s.stdout)
	if m == nil {
		t.Fatalf("no operations address printed:\n%s", s.stdout)
	}
	return m[1]
}

func getText(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// The operations address serves health, readiness and the handler's
// metrics, and only there: the public address has none of them.
func TestOpsAddress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeConfig(t, dir, `
listen: 127.0.0.1:0
ops_listen: 127.0.0.1:0
storage: sqlite:`+filepath.Join(dir, "ops.db")+`
clients:
  - id: integration
    secret: a-long-secret-value
    grant_types: [client_credentials]
    scopes: [orders:read]
    default_scopes: [orders:read]
    audiences: ["https://api.example.com"]
`)
	s := start(t, nil, "-config", path, "-allow-unsealed-keys")
	ops := opsURL(t, s)
	basicToken(t, s.url, "integration", "a-long-secret-value")
	req, _ := http.NewRequest(http.MethodPost, s.url+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("integration", "wrong")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}

	for _, tc := range []struct{ path, want string }{{"/healthz", "ok"}, {"/readyz", "ready"}} {
		if status, body := getText(t, ops+tc.path); status != http.StatusOK || strings.TrimSpace(body) != tc.want {
			t.Errorf("%s = %d %q, want 200 %q", tc.path, status, body, tc.want)
		}
	}
	status, metrics := getText(t, ops+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	for _, want := range []string{
		`tollgate_handler_requests_total{endpoint="token",grant_type="client_credentials",outcome="issued"} 1`,
		`tollgate_handler_requests_total{endpoint="token",grant_type="client_credentials",outcome="invalid_client"} 1`,
		`tollgate_handler_client_auth_failures_total{reason="bad_credentials"} 1`,
		"go_goroutines ", "process_resident_memory_bytes ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := getText(t, s.url+p); status != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", p, status)
		}
	}
}

func TestOpsOffByDefault(t *testing.T) {
	t.Parallel()
	s := start(t, nil, "-listen", "127.0.0.1:0")
	if opsLine.MatchString(s.stdout) {
		t.Errorf("an operations address without ops_listen:\n%s", s.stdout)
	}
}

// Readiness follows the database: 503 within 5 s of PostgreSQL going away
// (here a proxy in front of it stops, closing every connection), 200 again
// once it is back. Health stays 200 throughout: the process is fine.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	dsn := postgresSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	db := startGate(t, target)
	u.Host = db.addr
	s := start(t, nil, "-storage", u.String(), "-listen", "127.0.0.1:0", "-ops-listen", "127.0.0.1:0", "-allow-unsealed-keys")
	ops := opsURL(t, s)
	waitStatus := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second) // the bound
		for {
			status, body := getText(t, ops+"/readyz")
			if status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz still %d %q after 5 s, want %d", what, status, body, want)
			}
			time.Sleep(100 * time.Millisecond) // polling a probe, as a load balancer does
		}
	}
	waitStatus("database up", http.StatusOK)
	db.stop()
	waitStatus("database gone", http.StatusServiceUnavailable)
	if status, _ := getText(t, ops+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz with the database gone = %d, want 200", status)
	}
	db.start()
	waitStatus("database back", http.StatusOK)
}

// gate forwards TCP connections to a target until stopped: stopping closes
// the listener and every connection, as a database going away does; start
// listens again on the same address.
type gate struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startGate(t *testing.T, target string) *gate {
	g := &gate{t: t, addr: "127.0.0.1:0", target: target}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gate) start() {
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	g.ln, g.addr = ln, ln.Addr().String()
	g.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", g.target)
			if err != nil {
				c.Close()
				continue
			}
			g.mu.Lock()
			g.conns = append(g.conns, c, d)
			g.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, d); d.Close(); c.Close() }()
		}
	}()
}

func (g *gate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}
