package middleware_test

// Tests of the rules every remote document follows (issue 9.8): https
// unless loopback or allowed, no redirects, a deadline on every fetch even
// with the caller's client, which is left as it was.

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/middleware"
)

// ftDialTo returns a client whose every connection goes to addr, whatever
// host the URL names, so a test can fetch "http://jwks.example.test/"
// from a local server. tlsConfig, if set, is the TLS client config.
func ftDialTo(addr string, tlsConfig *tls.Config) (*http.Client, *atomic.Int64) {
	var dials atomic.Int64
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: tlsConfig,
	}
	return &http.Client{Transport: tr}, &dials
}

func TestRemoteJWKSSchemeRule(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	plain := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(rmJWKS(t, k1.jwk()))
	}))
	t.Cleanup(tlsSrv.Close)
	tlsConfig := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig
	const httpsRefused = "must use https"
	for _, tc := range []struct {
		name      string
		url       string
		tls       bool // dial the TLS server
		allowHTTP bool
		want      string // "" to succeed
	}{
		{name: "http, public name", url: "http://jwks.example.test/jwks.json", want: httpsRefused},
		{name: "http, public IP", url: "http://192.0.2.10/jwks.json", want: httpsRefused},
		{name: "http, IPv6 public", url: "http://[2001:db8::1]/jwks.json", want: httpsRefused},
		{name: "http, name that looks loopback", url: "http://127.0.0.1.example.test/jwks.json", want: httpsRefused},
		{name: "http, localhost.evil", url: "http://localhost.evil.test/jwks.json", want: httpsRefused},
		{name: "http, 127.0.0.1", url: "http://127.0.0.1/jwks.json"},
		{name: "http, 127.0.0.53", url: "http://127.0.0.53:8080/jwks.json"},
		{name: "http, localhost", url: "http://localhost:8080/jwks.json"},
		{name: "http, LOCALHOST", url: "http://LOCALHOST/jwks.json"},
		{name: "http, [::1]", url: "http://[::1]:8080/jwks.json"},
		{name: "http, public name, AllowHTTP", url: "http://jwks.example.test/jwks.json", allowHTTP: true},
		{name: "https, public name", url: "https://example.com/jwks.json", tls: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, cfg := plain.Listener.Addr().String(), (*tls.Config)(nil)
			if tc.tls {
				addr, cfg = tlsSrv.Listener.Addr().String(), tlsConfig
			}
			client, dials := ftDialTo(addr, cfg)
			ks, err := middleware.RemoteJWKS(context.Background(), tc.url, middleware.RemoteOptions{
				HTTPClient: client, AllowHTTP: tc.allowHTTP, Logger: rmDiscard})
			if tc.want != "" {
				if err == nil {
					ks.Close()
					t.Fatal("RemoteJWKS accepted the URL")
				}
				if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "AllowHTTP") {
					t.Errorf("error %q, want it to say %q and name AllowHTTP", err, tc.want)
				}
				if dials.Load() != 0 {
					t.Errorf("%d connections made for a refused URL", dials.Load())
				}
				return
			}
			if err != nil {
				t.Fatalf("RemoteJWKS: %v", err)
			}
			ks.Close()
			if dials.Load() != 1 {
				t.Errorf("%d connections, want 1", dials.Load())
			}
		})
	}
}

// TestIssuerMetadataSchemeRule: a jwks_uri read from metadata, and the
// metadata URL itself, follow the same rule as a configured JWKS URL.
func TestIssuerMetadataSchemeRule(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	js := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	for _, tc := range []struct {
		name      string
		jwksURI   string
		mdURL     string // "" for the local metadata server
		allowHTTP bool
		want      string
	}{
		{name: "jwks_uri http on a public name", jwksURI: "http://keys.example.test/jwks.json", want: "must use https"},
		{name: "jwks_uri http, AllowHTTP", jwksURI: "http://keys.example.test/jwks.json", allowHTTP: true},
		{name: "jwks_uri on loopback", jwksURI: js.URL},
		{name: "metadata http on a public name", mdURL: "http://issuer.example.test" + handler.MetadataPath, want: "must use https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			md, _ := rmMetadataServer(t, map[string]any{"issuer": rmIssuer, "jwks_uri": tc.jwksURI})
			mdURL := md.URL + handler.MetadataPath
			if tc.mdURL != "" {
				mdURL = tc.mdURL
			}
			// Connections to anything but the metadata server go to the
			// JWKS server.
			var jwksDials atomic.Int64
			client := &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					if addr != md.Listener.Addr().String() {
						jwksDials.Add(1)
						addr = js.Listener.Addr().String()
					}
					return (&net.Dialer{}).DialContext(ctx, network, addr)
				},
			}}
			ks, err := middleware.IssuerMetadata(context.Background(), mdURL, rmIssuer,
				middleware.RemoteOptions{HTTPClient: client, AllowHTTP: tc.allowHTTP, Logger: rmDiscard})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("IssuerMetadata: %v", err)
				}
				ks.Close()
				return
			}
			if err == nil {
				ks.Close()
				t.Fatal("IssuerMetadata succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if jwksDials.Load() != 0 {
				t.Errorf("%d connections to a refused URL", jwksDials.Load())
			}
		})
	}
}

// TestRemoteJWKSNoRedirects: a redirect is an error, and the target is
// never asked; the caller's client keeps its own redirect policy.
func TestRemoteJWKSNoRedirects(t *testing.T) {
	t.Parallel()
	k1 := rmNewKey(t, "ES256", "k1")
	target := rmNewJWKSServer(t, rmJWKS(t, k1.jwk()))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := serve(t, http.RedirectHandler(target.URL, code))
		md, _ := rmMetadataServer(t, map[string]any{"issuer": rmIssuer, "jwks_uri": redirector.URL})
		var followed atomic.Int64
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { followed.Add(1); return nil }}
		for name, start := range map[string]func() (*middleware.KeySet, error){
			"RemoteJWKS": func() (*middleware.KeySet, error) {
				return middleware.RemoteJWKS(context.Background(), redirector.URL, middleware.RemoteOptions{HTTPClient: client, Logger: rmDiscard})
			},
			"IssuerMetadata, jwks_uri redirects": func() (*middleware.KeySet, error) {
				return middleware.IssuerMetadata(context.Background(), md.URL+handler.MetadataPath, rmIssuer,
					middleware.RemoteOptions{HTTPClient: client, Logger: rmDiscard})
			},
			"IssuerMetadata redirects": func() (*middleware.KeySet, error) {
				return middleware.IssuerMetadata(context.Background(), redirector.URL, rmIssuer,
					middleware.RemoteOptions{HTTPClient: client, Logger: rmDiscard})
			},
		} {
			ks, err := start()
			if err == nil {
				ks.Close()
				t.Fatalf("%d, %s: succeeded through a redirect", code, name)
			}
			if !strings.Contains(err.Error(), "redirects are not followed") {
				t.Errorf("%d, %s: error %q, want it to say redirects are not followed", code, name, err)
			}
		}
		if n := target.Hits(); n != 0 {
			t.Fatalf("%d: the redirect target was asked %d times", code, n)
		}
		if followed.Load() != 0 || client.CheckRedirect == nil || client.Timeout != 0 || client.Transport != nil {
			t.Fatalf("%d: the caller's client was used or changed: CheckRedirect called %d times, %+v", code, followed.Load(), client)
		}
	}
}

// TestRemoteJWKSRefetchNoRedirect: a refetch answered by a redirect keeps
// the last good keys.
func TestRemoteJWKSRefetchNoRedirect(t *testing.T) {
	t.Parallel()
	k1, k2 := rmNewKey(t, "ES256", "k1"), rmNewKey(t, "ES256", "k2")
	evil := rmNewJWKSServer(t, rmJWKS(t, k2.jwk()))
	var redirect atomic.Bool
	good := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if redirect.Load() {
			http.Redirect(w, r, evil.URL, http.StatusFound)
			return
		}
		_, _ = w.Write(rmJWKS(t, k1.jwk()))
	}))
	clock := newClock(rmNow)
	ks := rmRemote(t, good.URL, middleware.RemoteOptions{Now: clock.Now})
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	redirect.Store(true)
	rmWant(t, "token of the key behind the redirect", rmGet(t, api.URL, k2.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
	rmWant(t, "token of the last good key", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")
	if evil.Hits() != 0 {
		t.Errorf("the redirect target was asked %d times", evil.Hits())
	}
}

// ftHanging answers nothing until the request is cancelled (or the test
// ends), and counts requests.
func ftHanging(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets Close return
	return ts, &hits
}

// TestRemoteJWKSDeadline: with a caller's client that has no timeout, a
// hanging JWKS still ends each fetch at FetchTimeout, at start and on a
// refetch, and the client is left without a timeout.
func TestRemoteJWKSDeadline(t *testing.T) {
	t.Parallel()
	hang, hits := ftHanging(t)
	client := &http.Client{}
	const limit = 100 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := middleware.RemoteJWKS(context.Background(), hang.URL, middleware.RemoteOptions{
			HTTPClient: client, FetchTimeout: limit, Logger: rmDiscard})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
			t.Fatalf("RemoteJWKS against a hanging server: %v, want a deadline error", err)
		}
	case <-time.After(20 * time.Second): // a hang, not a timing assumption
		t.Fatal("RemoteJWKS did not return: no deadline on the fetch")
	}
	if client.Timeout != 0 {
		t.Errorf("the caller's client got Timeout %v", client.Timeout)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1", hits.Load())
	}

	// A refetch for an unknown kid: the request waits for it, and it ends.
	k1 := rmNewKey(t, "ES256", "k1")
	var hanging atomic.Bool
	flaky := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hanging.Load() {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write(rmJWKS(t, k1.jwk()))
	}))
	clock := newClock(rmNow)
	ks := rmRemote(t, flaky.URL, middleware.RemoteOptions{HTTPClient: client, FetchTimeout: limit, Now: clock.Now})
	api := rmAPI(t, rmMiddleware(t, ks, clock.Now, nil))
	hanging.Store(true)
	stranger := rmNewKey(t, "ES256", "k-new")
	rmWant(t, "unknown kid while the JWKS hangs", rmGet(t, api.URL, stranger.token(t, rmNow)), http.StatusUnauthorized, "invalid_token")
	rmWant(t, "known kid", rmGet(t, api.URL, k1.token(t, rmNow)), http.StatusOK, "")
}
