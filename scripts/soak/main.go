// Command soak runs the demo server under a steady mix of good and bad
// token requests and reports whether it stays healthy: no 5xx, flat memory
// and file descriptors, a bounded database and fast good requests.
//
//	go run ./scripts/soak -duration 10m
//
// It builds ./examples/server, starts it on a free port with a temporary
// config and SQLite database, and prints one table row per sample
// interval, then a verdict per target. Run it from the repository. CI does
// not run it: it takes minutes and wants a quiet machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long to run the load")
	interval := flag.Duration("interval", 10*time.Second, "how often to sample the server")
	workers := flag.Int("workers", 4, "good-request workers (even: client_credentials, odd: refresh chains); one more sends the bad mix")
	rps := flag.Float64("rps", 200, "requests per second over all workers")
	keep := flag.Bool("keep", false, "keep the temporary directory (config, database, server log)")
	flag.Parse()
	if *workers < 1 || *rps <= 0 || *interval <= 0 || *duration < *interval {
		fmt.Fprintln(os.Stderr, "soak: need -workers ≥ 1, -rps > 0 and -duration ≥ -interval")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := soak(ctx, *duration, *interval, *workers, *rps, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func soak(ctx context.Context, duration, interval time.Duration, workers int, rps float64, keep bool) (bool, error) {
	dir, err := os.MkdirTemp("", "tollgate-soak-")
	if err != nil {
		return false, err
	}
	if keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	srv, err := startServer(ctx, dir)
	if err != nil {
		return false, err
	}
	defer srv.stop()

	var cur atomic.Pointer[stats]
	cur.Store(&stats{})
	// Keep-alive connections, as a real client keeps them: fds then count
	// what the server holds, not a churn of sockets in TIME_WAIT.
	l := &load{base: srv.base, cur: cur.Load, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}}
	loadCtx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) * float64(workers+1) / rps)
	for w := -1; w < workers; w++ {
		wg.Go(func() { l.run(loadCtx, w, every) })
	}

	var rows []sample
	printHeader()
	start, last := time.Now(), time.Duration(0)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-loadCtx.Done():
			done = true
			wg.Wait() // the last, partial interval's requests are in
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		s := cur.Swap(&stats{})
		if done && s.requests == 0 {
			break // the run ended on a sample: no partial interval to show
		}
		at := time.Since(start)
		row, err := srv.sample(at, at-last, s)
		last = at
		if err != nil {
			return false, err
		}
		rows = append(rows, row)
		row.print()
	}
	return verdict(rows), nil
}

// server is the demo server process.
type server struct {
	cmd  *exec.Cmd
	base string
	db   string
	done chan error
}

// startServer builds the demo and starts it with a config of one machine
// client, one public app with refresh tokens and one user. Rate limits
// are set out of the way: the soak measures the server, not its limits.
func startServer(ctx context.Context, dir string) (*server, error) {
	bin := filepath.Join(dir, "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the demo server (run from the repository): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{base: "http://127.0.0.1:" + port, db: filepath.Join(dir, "soak.db"), done: make(chan error, 1)}
	config := filepath.Join(dir, "soak.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: 127.0.0.1:%s
storage: sqlite:%s
rate_limits: {token: 1000000-S, token_per_ip: 1000000-S, failed_auth: 1000000-S, login: 1000000-M}
users:
  - username: %s
    password: %s
clients:
  - id: %s
    secret: %s
    grant_types: [client_credentials]
    scopes: [orders:read]
    audiences: [%s]
  - id: %s
    public: true
    grant_types: [authorization_code, refresh_token]
    scopes: [orders:read]
    audiences: [%s]
    redirect_uris: [%s]
`, port, s.db, user, password, svcID, svcSecret, audience, spaID, audience, redirectURI)), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-config", config)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait(); logFile.Close() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if res, err := http.Get(s.base + handler.MetadataPath); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("the demo server exited at start (%v); see %s", err, logFile.Name())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("the demo server did not answer within 30 s; see %s", logFile.Name())
		}
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// sample reads the process's resident memory and open descriptors from
// /proc (Linux), and the database's size with its WAL.
func (s *server) sample(at, length time.Duration, st *stats) (sample, error) {
	pid := strconv.Itoa(s.cmd.Process.Pid)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return sample{}, fmt.Errorf("the demo server is gone: %w", err)
	}
	var rssKB int64
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	fds, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		return sample{}, err
	}
	var dbBytes int64
	for _, f := range []string{s.db, s.db + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			dbBytes += fi.Size()
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return sample{at: at, length: length, requests: st.requests, status5xx: st.status5xx, connErrors: st.connErrors,
		unexpected: st.unexpected, good: st.good, rss: rssKB << 10, fds: len(fds), db: dbBytes}, nil
}
