package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/tollgate-oauth/tollgate/internal/jwtverify"
)

// RemoteOptions tune how a remote key set is fetched and refreshed. Zero
// values are the defaults.
type RemoteOptions struct {
	// HTTPClient fetches the JWKS (and the metadata, for IssuerMetadata).
	// Default: a client on http.DefaultTransport. Whatever the client's own
	// settings, redirects are not followed and FetchTimeout applies; the
	// client itself is not modified.
	HTTPClient *http.Client
	// FetchTimeout is the deadline of each fetch. Default 10 s.
	FetchTimeout time.Duration
	// AllowHTTP accepts http:// URLs for any host. Default false: https
	// only, except for a loopback host (localhost, 127.0.0.1, [::1]). The
	// rule applies to the jwks_uri read from metadata too.
	AllowHTTP bool
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
	// Metrics, if set, counts fetches by trigger and result and reports
	// the set's age (see [Metrics]). Default nil: none.
	Metrics *Metrics
	// TracerProvider, if set, traces each fetch in a span named
	// tollgate.middleware.jwks_fetch: its trigger, the URL (without
	// userinfo or query), the number of keys, the error. A fetch for an
	// unknown kid is a child of the verification that waits for it.
	// Default nil: no spans.
	TracerProvider trace.TracerProvider
}

func (o *RemoteOptions) withDefaults() {
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 10 * time.Second
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
// issuer is down the last good set keeps serving. Call [KeySet.Close] to
// stop.
//
// jwksURL must be https, unless its host is loopback or
// [RemoteOptions.AllowHTTP] is set. Redirects are not followed, and every
// fetch ends within [RemoteOptions.FetchTimeout].
func RemoteJWKS(ctx context.Context, jwksURL string, opts RemoteOptions) (*KeySet, error) {
	opts.withDefaults()
	f := opts.fetcher()
	if err := f.checkURL("JWKS", jwksURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(jwksURL) // checked above
	r := &remote{url: jwksURL, spanURL: spanURL(u), opts: opts, fetcher: f, tracer: tracerOf(opts.TracerProvider),
		created: opts.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	ks := &KeySet{remote: r}
	if err := r.fetch(ctx, ks, triggerStart); err != nil {
		if !opts.RetryStartup {
			return nil, err
		}
		opts.Logger.Warn("JWKS not reachable at start; retrying in the background", "url", jwksURL, "error", err)
	}
	opts.Metrics.trackRemote(r, true)
	go r.loop(ks)
	return ks, nil
}

func (o *RemoteOptions) fetcher() *fetcher {
	return newFetcher(o.HTTPClient, o.FetchTimeout, o.AllowHTTP, o.MaxBytes)
}

// IssuerMetadata reads the issuer's RFC 8414 metadata at metadataURL,
// checks that it names issuer, and follows its jwks_uri (see
// [RemoteJWKS]). Both URLs follow RemoteJWKS's rules: https unless
// loopback or allowed, no redirects, a deadline on every fetch.
func IssuerMetadata(ctx context.Context, metadataURL, issuer string, opts RemoteOptions) (*KeySet, error) {
	opts.withDefaults()
	md, err := readMetadata(ctx, opts.fetcher(), metadataURL, issuer)
	if err != nil {
		return nil, err
	}
	if md.JWKSURI == "" {
		return nil, fmt.Errorf("middleware: metadata at %s has no jwks_uri", metadataURL)
	}
	return RemoteJWKS(ctx, md.JWKSURI, opts)
}

// metadata holds the members of an issuer's RFC 8414 metadata this
// package reads.
type metadata struct {
	Issuer                 string `json:"issuer"`
	JWKSURI                string `json:"jwks_uri"`
	RevocationFeedEndpoint string `json:"revocation_feed_endpoint"`
}

// readMetadata fetches the metadata at metadataURL and checks that it
// names issuer (RFC 8414 §3.3). URLs in it are not checked here: each
// user checks the one it follows.
func readMetadata(ctx context.Context, f *fetcher, metadataURL, issuer string) (*metadata, error) {
	if err := f.checkURL("metadata", metadataURL); err != nil {
		return nil, err
	}
	body, err := f.get(ctx, metadataURL)
	if err != nil {
		return nil, fmt.Errorf("middleware: issuer metadata: %w", err)
	}
	return parseMetadata(body, metadataURL, issuer)
}

type remote struct {
	url     string
	spanURL attribute.KeyValue
	opts    RemoteOptions
	fetcher *fetcher
	tracer  trace.Tracer // nil: off

	// For the age gauge and Ready: when the remote was made (on
	// opts.Now), when a fetch last succeeded (Unix nanoseconds; 0: never),
	// and the last fetch's error (nil after a success).
	created  time.Time
	lastGood atomic.Int64
	lastErr  atomic.Pointer[error]

	group singleflight.Group

	mu        sync.Mutex
	lastMiss  time.Time
	missFetch chan struct{} // closed when the refetch for a miss ends; nil if none runs

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// fetch replaces the set with a fresh copy. Concurrent callers share one
// request, counted once, under the trigger of the caller that started it.
func (r *remote) fetch(ctx context.Context, ks *KeySet, trigger fetchTrigger) error {
	ch := r.group.DoChan("fetch", func() (any, error) {
		// Detached from the caller: one caller giving up must not cancel the
		// fetch the others wait for. FetchTimeout bounds it.
		fctx, span := startSpan(context.WithoutCancel(ctx), r.tracer, spanJWKSFetch,
			attribute.String(attrTrigger, triggerLabels[trigger]), r.spanURL)
		n, err := r.replace(fctx, ks)
		r.opts.Metrics.fetched(trigger, err)
		endSpan(span, err, attribute.Int(attrKeys, n))
		return nil, err
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

// replace fetches and parses the set and makes it current; it returns the
// number of usable keys.
func (r *remote) replace(ctx context.Context, ks *KeySet) (int, error) {
	body, err := r.fetcher.get(ctx, r.url)
	if err == nil {
		var m *keyMap
		if m, err = parseJWKS(body, r.opts.Logger); err == nil {
			ks.current.Store(m)
			r.lastGood.Store(r.opts.Now().UnixNano())
			r.lastErr.Store(nil)
			return len(m.byKID), nil
		}
	}
	r.lastErr.Store(&err)
	return 0, err
}

// age is how long ago the last good fetch was, or, before one, how long
// ago the remote was made.
func (r *remote) age() time.Duration {
	since := r.created
	if ns := r.lastGood.Load(); ns != 0 {
		since = time.Unix(0, ns)
	}
	return max(0, r.opts.Now().Sub(since))
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
		// end it for the others. FetchTimeout bounds it.
		fctx := context.WithoutCancel(ctx)
		go func(done chan struct{}) {
			if err := r.fetch(fctx, ks, triggerUnknownKID); err != nil {
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
		err := r.fetch(ctx, ks, triggerRefresh)
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
	r.opts.Metrics.trackRemote(r, false)
}
