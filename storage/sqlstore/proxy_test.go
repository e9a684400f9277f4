package sqlstore_test

import (
	"net"
	"sync"
	"testing"
)

// faultProxy stands between a store and its database: a TCP listener that
// forwards every connection to target, and can stop forwarding (the
// database stops answering: connections stay open, nothing comes back),
// start again, or drop every connection (the database restarts).
type faultProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   chan struct{} // closed while forwarding; replaced by Pause
	conns  map[net.Conn]struct{}
	done   chan struct{}
	closed bool
	wg     sync.WaitGroup
}

func startProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	close(p.open)
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is host:port to connect to instead of the database.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// Pause stops forwarding bytes, both ways, on every connection, new ones
// included. What is sent meanwhile waits in the proxy.
func (p *faultProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // already paused
	}
}

// Resume forwards again, what waited first.
func (p *faultProxy) Resume() {
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
func (p *faultProxy) DropConnections() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Close stops the proxy and closes every connection.
func (p *faultProxy) Close() {
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

func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			return
		}
		p.wg.Go(func() {
			server, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				return
			}
			if !p.track(server) {
				client.Close()
				return
			}
			var pair sync.WaitGroup
			pair.Go(func() { p.pipe(server, client) })
			pair.Go(func() { p.pipe(client, server) })
			pair.Wait()
		})
	}
}

// pipe copies src to dst, holding each chunk while the proxy is paused;
// when either side ends, both are closed.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
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
