// Command scaleout measures client_credentials throughput with 1, 2 and 4
// demo-server processes sharing one PostgreSQL database and one Redis for
// their rate-limit counters, and says what limits it: it reports the CPU
// that the servers, PostgreSQL, Redis and the load itself spent per
// request.
//
//	go run ./scripts/scaleout -instances 1,2,4 -duration 10s
//
// The load spreads its keep-alive connections evenly over the instances
// (worker i talks to instance i mod N), so no proxy sits in the way. Each
// row starts from a fresh database. It wants a quiet machine: everything
// here shares its cores. CI does not run it.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/tollgate-oauth/tollgate/handler"
)

const (
	clientID     = "scaleout-client"
	clientSecret = "scaleout-secret-0123456789abcdef"
)

func main() {
	instances := flag.String("instances", "1,2,4", "comma-separated instance counts, one row each")
	duration := flag.Duration("duration", 10*time.Second, "load per row")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections over all instances")
	pg := flag.String("postgres", envOr("TOLLGATE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL whose server gets a fresh database per row")
	redis := flag.String("redis", envOr("TOLLGATE_TEST_REDIS", "redis://127.0.0.1:6379/0"), "Redis URL for the shared rate-limit counters")
	flag.Parse()
	var counts []int
	for f := range strings.SplitSeq(*instances, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fail(fmt.Errorf("-instances: %q is not a positive count", f))
		}
		counts = append(counts, n)
	}
	dir, err := os.MkdirTemp("", "scaleout-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", bin, "./examples/server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fail(fmt.Errorf("building the demo server (run from the repository): %w", err))
	}
	fmt.Printf("%d connections, %v per row, cores: %d\n\n", *conns, *duration, numCPU())
	fmt.Println("| instances | token req/s | servers µs CPU/req | PostgreSQL µs/req | Redis µs/req | load µs/req | errors |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range counts {
		r, err := row(dir, bin, n, *conns, *duration, *pg, *redis)
		if err != nil {
			fail(err)
		}
		fmt.Printf("| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %d |\n", n, r.rps, r.serverCPU, r.pgCPU, r.redisCPU, r.loadCPU, r.errors)
	}
}

type result struct {
	rps                                 float64
	serverCPU, pgCPU, redisCPU, loadCPU float64 // µs per request
	errors                              int64
}

// row starts n instances on a fresh database, loads them, and stops them.
func row(dir, bin string, n, conns int, d time.Duration, pgURL, redisURL string) (result, error) {
	dsn, drop, err := freshDatabase(pgURL)
	if err != nil {
		return result{}, err
	}
	defer drop()
	kek := make([]byte, 32)
	rand.Read(kek)
	env := append(os.Environ(), "TOLLGATE_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(kek))
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	var bases []string
	issuer := ""
	for i := range n {
		port, err := freePort()
		if err != nil {
			return result{}, err
		}
		base := "http://127.0.0.1:" + port
		if issuer == "" {
			issuer = base // one issuer for all: the instances are one server
		}
		cfg := filepath.Join(dir, fmt.Sprintf("instance-%d.yaml", i))
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`listen: 127.0.0.1:%s
issuer: %s
storage: %q
keys: [{kid: scaleout, alg: ES256}]
rate_limits: {store: %q, token: 100000000-S, token_per_ip: 100000000-S, failed_auth: 1000000-M}
clients:
  - id: %s
    secret: %s
    grant_types: [client_credentials]
    scopes: [orders:read]
    default_scopes: [orders:read]
    audiences: [https://api.example.com]
`, port, issuer, dsn, redisURL, clientID, clientSecret)), 0o600); err != nil {
			return result{}, err
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("instance-%d.log", i)))
		if err != nil {
			return result{}, err
		}
		cmd := exec.Command(bin, "-config", cfg)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
		if err := cmd.Start(); err != nil {
			return result{}, err
		}
		procs = append(procs, cmd)
		// One at a time: the first creates the tables and the key.
		if err := waitUp(base, logf.Name()); err != nil {
			return result{}, err
		}
		bases = append(bases, base)
	}
	// Warm up: every instance verifies the secret once and reads the client.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	for _, b := range bases {
		if err := token(client, b); err != nil {
			return result{}, fmt.Errorf("warm-up at %s: %w", b, err)
		}
	}
	pids := map[string][]int{"server": {}, "postgres": pgrep("postgres"), "redis": pgrep("redis-server")}
	for _, p := range procs {
		pids["server"] = append(pids["server"], p.Process.Pid)
	}
	before := map[string]time.Duration{}
	for k, v := range pids {
		before[k] = cpuOf(v)
	}
	selfBefore := selfCPU()
	var ok, bad atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		base := bases[w%len(bases)]
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := token(client, base); err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	reqs := float64(max(ok.Load(), 1))
	per := func(k string) float64 { return float64((cpuOf(pids[k]) - before[k]).Microseconds()) / reqs }
	return result{
		rps: float64(ok.Load()) / elapsed.Seconds(), serverCPU: per("server"), pgCPU: per("postgres"), redisCPU: per("redis"),
		loadCPU: float64((selfCPU() - selfBefore).Microseconds()) / reqs, errors: bad.Load(),
	}, nil
}

// token asks base for one client_credentials token.
func token(c *http.Client, base string) error {
	req, err := http.NewRequest(http.MethodPost, base+handler.TokenPath, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"access_token":"`) {
		return fmt.Errorf("status %d: %.200s", res.StatusCode, body)
	}
	return nil
}

// freshDatabase creates an empty database on the server of pgURL and
// returns its URL and a func that drops it.
func freshDatabase(pgURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		return "", nil, err
	}
	name := "tollgate_scaleout_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating a database on %s: %w", pgURL, err)
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		admin.Close()
	}, nil
}

func waitUp(base, log string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(base + handler.MetadataPath); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the instance at %s did not start within 30 s; see %s", base, log)
}

// cpuOf sums user and system CPU of the processes (Linux /proc).
func cpuOf(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command's closing paren: utime is the 12th, stime the 13th.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgrep lists the pids whose command name is name.
func pgrep(name string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, pid)
		}
	}
	return out
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(strings.Count(string(b), "processor\t:"), 1)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scaleout:", err)
	os.Exit(2)
}
