package testservices

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy stands between a client and its server (a store and its
// database): a TCP listener that forwards every connection to a target,
// and can stop forwarding (the database stops answering: connections stay
// open, nothing comes back), start again, or drop every connection (the
// database restarts). Killing the real database would break every other
// test using it; a proxy breaks only the test's own connections.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   chan struct{} // closed while forwarding; replaced by Pause
	conns  map[net.Conn]struct{}
	done   chan struct{}
	closed bool
	wg     sync.WaitGroup

	turns atomic.Int64 // see RoundTrips
}

// StartProxy starts a proxy to target (host:port), forwarding; it is
// closed when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	close(p.open)
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// ProxyPostgres starts a proxy to the server of the PostgreSQL URL dsn
// (port 5432 if it names none) and returns dsn with its host replaced by
// the proxy's.
func ProxyPostgres(t testing.TB, dsn string) (proxied string, p *Proxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	p = StartProxy(t, target)
	u.Host = p.Addr()
	return u.String(), p
}

// RoundTrips is how many times, over all connections so far, a client
// began sending after its server had last spoken (or for the first time):
// the round trips it waited for. A request written in several chunks, or
// pipelined statements written together, count once.
func (p *Proxy) RoundTrips() int64 { return p.turns.Load() }

// Addr is host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Pause stops forwarding bytes, both ways, on every connection, new ones
// included. What is sent meanwhile waits in the proxy.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // already paused
	}
}

// Resume forwards again, what waited first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// DropConnections closes every connection through the proxy, as a
// database restart does; new connections are forwarded as before.
func (p *Proxy) DropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil || !p.track(client) {
			return
		}
		p.wg.Go(func() {
			server, err := net.Dial("tcp", p.target)
			if err != nil || !p.track(server) {
				client.Close()
				return
			}
			// serverSpoke is whether the last bytes on this connection
			// came from the server: the next client bytes open a turn.
			var serverSpoke atomic.Bool
			serverSpoke.Store(true)
			var pair sync.WaitGroup
			pair.Go(func() {
				p.pipe(server, client, func() {
					if serverSpoke.Swap(false) {
						p.turns.Add(1)
					}
				})
			})
			pair.Go(func() { p.pipe(client, server, func() { serverSpoke.Store(true) }) })
			pair.Wait()
		})
	}
}

// pipe copies src to dst, holding each chunk while the proxy is paused;
// when either side ends, both are closed. read is called as each chunk
// arrives.
func (p *Proxy) pipe(dst, src net.Conn, read func()) {
	defer func() {
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			read()
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			select {
			case <-open:
			case <-p.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF, or closed by Close or DropConnections
			return
		}
	}
}
