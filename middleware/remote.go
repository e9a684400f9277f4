package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// RemoteOptions tune how a remote key set is fetched and refreshed. Zero
// values are the defaults.
type RemoteOptions struct {
	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// RefreshInterval is how often the set is fetched in the background.
	// Default 15 minutes.
	RefreshInterval time.Duration
	// MissRefetchInterval bounds refetches caused by a token naming an
	// unknown kid: at most one per interval, so a flood of made-up kids
	// cannot hammer the issuer. Default 30 s.
	MissRefetchInterval time.Duration
	// MaxBytes bounds the JWKS document. Default 1 MiB.
	MaxBytes int64
	// RetryStartup: when the first fetch fails, return the set anyway and
	// keep retrying in the background (requests get 503 until keys arrive).
	// Default false: the constructor returns the error.
	RetryStartup bool
	// Now is the clock for the refetch limit. Default time.Now.
	Now func() time.Time
	// Logger receives fetch failures. Default slog.Default().
	Logger *slog.Logger
}

func (o *RemoteOptions) withDefaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 15 * time.Minute
	}
	if o.MissRefetchInterval <= 0 {
		o.MissRefetchInterval = 30 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// RemoteJWKS fetches the key set at jwksURL now, then keeps it fresh: in
// the background every RefreshInterval, and at once when a token names a
// kid the set lacks (new keys appear without a failed request). When the
// issuer is down the last good set keeps serving. Call Close to stop.
func RemoteJWKS(ctx context.Context, jwksURL string, opts RemoteOptions) (*KeySet, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("middleware: JWKS URL %q must be an absolute http(s) URL", jwksURL)
	}
	opts.withDefaults()
	r := &remote{url: jwksURL, opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	ks := &KeySet{remote: r}
	if err := r.fetch(ctx, ks); err != nil {
		if !opts.RetryStartup {
			return nil, err
		}
		opts.Logger.Warn("JWKS not reachable at start; retrying in the background", "url", jwksURL, "error", err)
	}
	go r.loop(ks)
	return ks, nil
}

// IssuerMetadata reads the issuer's RFC 8414 metadata at metadataURL,
// checks that it names issuer, and follows its jwks_uri (see RemoteJWKS).
func IssuerMetadata(ctx context.Context, metadataURL, issuer string, opts RemoteOptions) (*KeySet, error) {
	opts.withDefaults()
	body, err := get(ctx, opts.HTTPClient, metadataURL, opts.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("middleware: issuer metadata: %w", err)
	}
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("middleware: issuer metadata at %s is not JSON: %w", metadataURL, err)
	}
	if md.Issuer != issuer {
		return nil, fmt.Errorf("middleware: metadata at %s names issuer %q, want %q (RFC 8414 §3.3)", metadataURL, md.Issuer, issuer)
	}
	if md.JWKSURI == "" {
		return nil, fmt.Errorf("middleware: metadata at %s has no jwks_uri", metadataURL)
	}
	return RemoteJWKS(ctx, md.JWKSURI, opts)
}

type remote struct {
	url  string
	opts RemoteOptions

	group singleflight.Group

	mu        sync.Mutex
	lastMiss  time.Time
	missFetch chan struct{} // closed when the refetch for a miss ends; nil if none runs

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// fetch replaces the set with a fresh copy. Concurrent callers share one
// request.
func (r *remote) fetch(ctx context.Context, ks *KeySet) error {
	ch := r.group.DoChan("fetch", func() (any, error) {
		// Detached from the caller: one caller giving up must not cancel the
		// fetch the others wait for. The client's timeout bounds it.
		body, err := get(context.WithoutCancel(ctx), r.opts.HTTPClient, r.url, r.opts.MaxBytes)
		if err != nil {
			return nil, err
		}
		m, err := parseJWKS(body, r.opts.Logger)
		if err != nil {
			return nil, err
		}
		ks.current.Store(m)
		return nil, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return fmt.Errorf("middleware: fetching JWKS %s: %w", r.url, res.Err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("middleware: fetching JWKS %s: %w", r.url, ctx.Err())
	}
}

// missed handles a kid the set does not hold: refetch, unless another miss
// refetched less than MissRefetchInterval ago. Misses that arrive while a
// refetch runs wait for it rather than fail: they are most likely the same
// new key.
func (r *remote) missed(ctx context.Context, ks *KeySet, kid string) (jwtverify.Key, error) {
	now := r.opts.Now()
	r.mu.Lock()
	running := r.missFetch
	if running == nil && (r.lastMiss.IsZero() || now.Sub(r.lastMiss) >= r.opts.MissRefetchInterval) {
		r.lastMiss = now
		running = make(chan struct{})
		r.missFetch = running
		// The refetch outlives the request that started it (keeping its
		// values, losing its cancellation): one request giving up must not
		// end it for the others. The HTTP client's timeout bounds it.
		fctx := context.WithoutCancel(ctx)
		go func(done chan struct{}) {
			if err := r.fetch(fctx, ks); err != nil {
				r.opts.Logger.Warn("JWKS refetch for an unknown kid failed", "url", r.url, "error", err)
			}
			r.mu.Lock()
			r.missFetch = nil
			r.mu.Unlock()
			close(done)
		}(running)
	}
	r.mu.Unlock()
	if running != nil {
		select {
		case <-running:
		case <-ctx.Done():
			return jwtverify.Key{}, fmt.Errorf("%w: %v", jwtverify.ErrKeysUnavailable, ctx.Err())
		}
	}
	m := ks.current.Load()
	if m == nil {
		return jwtverify.Key{}, jwtverify.ErrKeysUnavailable
	}
	if k, ok := m.byKID[kid]; ok {
		return k, nil
	}
	return jwtverify.Key{}, fmt.Errorf("%w: kid %q", jwtverify.ErrUnknownKey, kid)
}

// loop refreshes the set until close: every RefreshInterval when fetches
// succeed, sooner (doubling from 1 s) while they fail or no set was ever
// fetched.
func (r *remote) loop(ks *KeySet) {
	defer close(r.done)
	backoff := time.Second
	failing := ks.current.Load() == nil
	for {
		wait := r.opts.RefreshInterval
		if failing {
			wait = backoff
		}
		timer := time.NewTimer(wait)
		select {
		case <-r.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r.fetch(ctx, ks)
		cancel()
		failing = err != nil
		if failing {
			r.opts.Logger.Warn("JWKS refresh failed; serving the last good set", "url", r.url, "error", err)
			backoff = min(backoff*2, r.opts.RefreshInterval)
			continue
		}
		backoff = time.Second
	}
}

func (r *remote) close() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// get fetches url and returns at most max bytes of a 200 answer.
func get(ctx context.Context, client *http.Client, url string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, errors.New("document larger than the limit")
	}
	return body, nil
}
