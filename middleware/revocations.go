package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults of [RevocationOptions].
const (
	DefaultRevocationMaxDelay = 10 * time.Second
	DefaultMaxRevocations     = 100_000
)

// ErrNoRevocationFeed is wrapped by the error of [IssuerRevocationFeed]
// when the issuer's metadata advertises no revocation_feed_endpoint (an
// issuer that is not tollgate, or an older one).
var ErrNoRevocationFeed = errors.New("middleware: the issuer's metadata names no revocation_feed_endpoint")

// RevocationOptions tune how a [Revocations] set follows its feed. Zero
// values are the defaults.
type RevocationOptions struct {
	// MaxDelay bounds how long a revoked token may still be accepted while
	// the feed is reachable: the feed is polled every MaxDelay/2, and each
	// poll ends within MaxDelay/2. Default 10 s; at least 1 s.
	MaxDelay time.Duration
	// FailClosed answers 503 temporarily_unavailable, with Retry-After, to
	// every request while the set cannot vouch for the bound: it has not
	// caught up with the feed for more than MaxDelay (the feed is
	// unreachable, or never was), or MaxEntries made it drop entries that
	// have not expired. Default false: fail open, keep serving with the last
	// set, and log.
	FailClosed bool
	// MaxEntries bounds the set (each entry costs about 100 bytes). When
	// the feed holds more, the entries that expire first are dropped and an
	// error is logged. Default 100 000.
	MaxEntries int
	// MaxBytes bounds each document read: a feed page or the metadata.
	// Default 1 MiB.
	MaxBytes int64
	// HTTPClient fetches the feed and the metadata. Default: a client on
	// http.DefaultTransport. As for [RemoteOptions.HTTPClient], redirects
	// are not followed and FetchTimeout applies whatever the client says;
	// the client is not modified.
	HTTPClient *http.Client
	// FetchTimeout is the deadline of each fetch. Default MaxDelay/2, at
	// most 10 s.
	FetchTimeout time.Duration
	// AllowHTTP accepts http:// URLs for any host, as
	// [RemoteOptions.AllowHTTP]. Default false: https only, except for a
	// loopback host.
	AllowHTTP bool
	// RetryStartup: when the first poll (or, for [IssuerRevocationFeed],
	// the metadata) is unreachable, return the set anyway and keep trying in
	// the background. Until it succeeds nothing counts as revoked, or, with
	// FailClosed, requests get 503. Default false: the constructor returns
	// the error.
	RetryStartup bool
	// Now is the clock for expiry and for the age of the set. Default
	// time.Now.
	Now func() time.Time
	// Logger receives feed failures (the first, then at most one a
	// minute while they last) and recoveries. Default slog.Default().
	Logger *slog.Logger
	// Metrics, if set, counts polls by result and reports the set's lag
	// behind the feed and its size (see [Metrics]). Default nil: none.
	Metrics *Metrics
	// TracerProvider, if set, traces each poll in a span named
	// tollgate.middleware.revocation_poll: the feed URL (without userinfo
	// or query), the number of entries after it, whether more pages wait,
	// the error. Never a revoked id. Default nil: no spans.
	TracerProvider trace.TracerProvider
}

func (o *RevocationOptions) withDefaults() error {
	var errs []error
	switch {
	case o.MaxDelay == 0:
		o.MaxDelay = DefaultRevocationMaxDelay
	case o.MaxDelay < time.Second:
		errs = append(errs, fmt.Errorf("middleware: RevocationOptions.MaxDelay %v is under 1 s", o.MaxDelay))
	}
	switch {
	case o.MaxEntries == 0:
		o.MaxEntries = DefaultMaxRevocations
	case o.MaxEntries < 0:
		errs = append(errs, errors.New("middleware: RevocationOptions.MaxEntries must not be negative"))
	}
	switch {
	case o.MaxBytes == 0:
		o.MaxBytes = 1 << 20
	case o.MaxBytes < 0:
		errs = append(errs, errors.New("middleware: RevocationOptions.MaxBytes must not be negative"))
	}
	switch {
	case o.FetchTimeout == 0:
		o.FetchTimeout = min(o.MaxDelay/2, 10*time.Second)
	case o.FetchTimeout < 0:
		errs = append(errs, errors.New("middleware: RevocationOptions.FetchTimeout must not be negative"))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// Revocations is the set of access tokens the issuer has revoked, kept by
// polling the issuer's revocation feed (a tollgate server serves one at
// <issuer>/oauth/revocations). Give it to [Config.Revocations]: a token
// whose jti, or whose grant_id ([Claims.GrantID]), is in the set gets 401
// invalid_token, on every request, tokens served from the verified-token
// cache included. Build it with [RevocationFeed] or [IssuerRevocationFeed];
// one set may serve several Middlewares. It is safe for concurrent use.
//
// Requests read the set without a lock. Entries are kept until their exp,
// plus 5 minutes (the longest Leeway a Middleware accepts).
type Revocations struct {
	current  atomic.Pointer[revokedSet]
	opts     RevocationOptions
	interval time.Duration // between polls: MaxDelay/2
	fetch    *fetcher
	tracer   trace.Tracer // nil: off
	created  time.Time    // on opts.Now, for the lag before the first catch-up

	mu          sync.Mutex // serialises polls; guards what follows
	metadataURL string     // for IssuerRevocationFeed
	issuer      string
	feedURL     *url.URL // nil until known
	cursor      string
	rebuild     *entries // while a reset spans polls: the new list so far
	rebuildGap  int64    // gapUntil of rebuild
	nextPurge   int64    // Unix seconds when the set holds an entry to purge; 0: none
	failures    int      // consecutive failed polls
	lastLog     time.Time
	lastFullLog time.Time

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// RevocationFeed polls the revocation feed at feedURL now, then every
// [RevocationOptions.MaxDelay]/2 in the background, until
// [Revocations.Close]. feedURL follows the rules of [RemoteJWKS]: https
// unless loopback or allowed, no redirects, a deadline on every fetch.
func RevocationFeed(ctx context.Context, feedURL string, opts RevocationOptions) (*Revocations, error) {
	rv, err := newRevocations(opts)
	if err != nil {
		return nil, err
	}
	if rv.feedURL, err = rv.feedTarget(feedURL); err != nil {
		return nil, err
	}
	return rv.start(ctx, nil)
}

// IssuerRevocationFeed reads the issuer's RFC 8414 metadata at metadataURL
// (for a tollgate issuer, <issuer>/.well-known/oauth-authorization-server),
// checks that it names issuer, and polls the feed its
// revocation_feed_endpoint names, as [RevocationFeed] does. Both URLs
// follow the rules of [RemoteJWKS]. When the metadata names no feed, the
// error wraps [ErrNoRevocationFeed].
func IssuerRevocationFeed(ctx context.Context, metadataURL, issuer string, opts RevocationOptions) (*Revocations, error) {
	rv, err := newRevocations(opts)
	if err != nil {
		return nil, err
	}
	if err := rv.fetch.checkURL("metadata", metadataURL); err != nil {
		return nil, err
	}
	rv.metadataURL, rv.issuer = metadataURL, issuer
	reachable, err := rv.discover(ctx)
	if err != nil && reachable {
		return nil, err // the issuer answered, and the answer is wrong
	}
	return rv.start(ctx, err)
}

func newRevocations(opts RevocationOptions) (*Revocations, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	rv := &Revocations{
		opts: opts, interval: opts.MaxDelay / 2,
		fetch:  newFetcher(opts.HTTPClient, opts.FetchTimeout, opts.AllowHTTP, opts.MaxBytes),
		tracer: tracerOf(opts.TracerProvider), created: opts.Now(),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	rv.current.Store(&revokedSet{entries: newEntries()})
	return rv, nil
}

// start polls once, unless discovery already failed with err, and starts
// the background loop. A failed start is the constructor's error unless
// RetryStartup.
func (rv *Revocations) start(ctx context.Context, err error) (*Revocations, error) {
	if err == nil {
		err = rv.poll(ctx)
	} else {
		rv.opts.Metrics.polled(err) // discovery was this poll's first step
	}
	if err != nil {
		if !rv.opts.RetryStartup {
			return nil, err
		}
		rv.mu.Lock()
		rv.failures, rv.lastLog = 1, rv.opts.Now()
		rv.mu.Unlock()
		rv.opts.Logger.Warn("revocation feed not reachable at start; retrying in the background",
			"error", err, "fail_closed", rv.opts.FailClosed)
	}
	rv.opts.Metrics.trackFeed(rv, true)
	go rv.loop()
	return rv, nil
}

// Close stops the background polling. The set keeps its last entries.
func (rv *Revocations) Close() {
	rv.stopOnce.Do(func() { close(rv.stop) })
	<-rv.done
	rv.opts.Metrics.trackFeed(rv, false)
}

// lag is how long ago the set last caught up with the feed, or, before it
// did, how long ago the set was made.
func (rv *Revocations) lag() time.Duration {
	since := rv.current.Load().asOf
	if since.IsZero() {
		since = rv.created
	}
	return max(0, rv.opts.Now().Sub(since))
}

// check returns the refusal of a request bearing c at now, or nil. It runs
// on every request: one atomic load and at most two map lookups.
func (rv *Revocations) check(c *Claims, now time.Time) *Error {
	s := rv.current.Load()
	if rv.opts.FailClosed && !s.fresh(now, rv.opts.MaxDelay) {
		retry := strconv.Itoa(max(1, int(math.Ceil(rv.interval.Seconds()))))
		return &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the list of revoked tokens is out of date; retry later", Header: http.Header{"Retry-After": {retry}},
			reason: reasonRevocationsStale}
	}
	if s.has(c) {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: "the token has been revoked", reason: reasonRevoked}
	}
	return nil
}
