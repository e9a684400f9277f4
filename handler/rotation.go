package handler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/keys"
	"github.com/tollgate-oauth/tollgate/storage"
)

// Signing-key rotation (Config.KeyRotation) over Config.KeyStore. The
// instances sharing a store never talk to each other: they read the same
// records and apply the same rules, so they agree.
//
//   - A key's "from" is its ActiveFrom, or its CreatedAt when that is
//     zero (the first key, and keys stored before rotation existed).
//   - The key that signs at t is the newest whose from is not after t
//     (keys.Set.SigningAt, per token): every instance switches at the same
//     instant, however long ago it last read the store.
//   - The JWKS lists every key not retired: a key is published from when
//     it is stored, PublishAhead before it signs.
//   - The next key is made once newest.from + Every - PublishAhead has
//     come, to sign from newest.from + Every (or PublishAhead from now,
//     if the instances were all down when it was due), under a kid made
//     from newest.from + Every: instances making it at once collide on
//     AddSigningKey, and the losers read the winner's.
//   - A key is retired once its successor has signed for RetireAfter (the
//     longest life of a token it signed, plus the verifiers' leeway), and
//     one re-read period more, for an instance that read the successor
//     late and signed with the old key meanwhile.
//
// Each instance re-reads the store every period, in a goroutine that
// Server.Close stops; requests never wait on the store for keys.

// keyRefreshTimeout bounds one re-read (and the writes it makes).
const keyRefreshTimeout = 30 * time.Second

// verifierLeeway is the most exp leeway the middleware allows: a token is
// accepted that long after it expired.
const verifierLeeway = 5 * time.Minute

// ErrRotationOff is returned by Server.RotateKeys and Server.RetireKey
// when Config.KeyRotation.Every is zero.
var ErrRotationOff = errors.New("handler: signing-key rotation is off (Config.KeyRotation.Every)")

// rotation is a Server's part in the rotation.
type rotation struct {
	ks     storage.KeyStore
	kek    []byte
	cfg    KeyRotation
	period time.Duration // between re-reads

	mu     sync.Mutex           // one re-read or change at a time
	parsed map[string]*keys.Key // by kid: each key unsealed and parsed once

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newRotation(cfg Config, ks storage.KeyStore) *rotation {
	return &rotation{
		ks: ks, kek: cfg.KeyEncryptionKey, cfg: cfg.KeyRotation,
		// Often enough that every instance has a new key well before it
		// signs, rarely enough to cost the store nothing.
		period: max(time.Second, min(cfg.KeyRotation.PublishAhead/4, time.Minute)),
		parsed: map[string]*keys.Key{},
		stop:   make(chan struct{}), done: make(chan struct{}),
	}
}

// KeyInfo describes a signing key kept in Config.KeyStore.
type KeyInfo struct {
	ID        string
	Algorithm string
	CreatedAt time.Time
	// ActiveFrom is when the key signs (or signed) from.
	ActiveFrom time.Time
	// RetiredAt is when it left the JWKS; zero while it is published.
	RetiredAt time.Time
	// Signing is true for the key that signs now, at this Server.
	Signing bool
}

// keyFrom is when a stored key signs from.
func keyFrom(k *storage.SigningKey) time.Time {
	if k.ActiveFrom.IsZero() {
		return k.CreatedAt
	}
	return k.ActiveFrom
}

// rotationKID names the key that signs from at: the same name at every
// instance that computes the same time.
func rotationKID(at time.Time) string { return "k" + at.UTC().Format("20060102T150405Z") }

// storedSigningKeys returns the signing keys in ks (not the refresh MAC
// key), oldest "from" first.
func storedSigningKeys(ctx context.Context, ks storage.KeyStore) ([]*storage.SigningKey, error) {
	all, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the signing keys: %w", err)
	}
	all = slices.DeleteFunc(all, func(k *storage.SigningKey) bool { return k.ID == storage.RefreshMACKeyID })
	slices.SortStableFunc(all, func(a, b *storage.SigningKey) int {
		return cmp.Or(keyFrom(a).Compare(keyFrom(b)), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return all, nil
}

// live drops the retired keys.
func live(all []*storage.SigningKey) []*storage.SigningKey {
	return slices.DeleteFunc(slices.Clone(all), func(k *storage.SigningKey) bool { return !k.RetiredAt.IsZero() })
}

// signerAt is the live key that signs at now (live is sorted by from).
func signerAt(live []*storage.SigningKey, now time.Time) *storage.SigningKey {
	for i := len(live) - 1; i >= 0; i-- {
		if !keyFrom(live[i]).After(now) {
			return live[i]
		}
	}
	if len(live) > 0 {
		return live[0]
	}
	return nil
}

// refreshKeys re-reads the keys: it makes the next key when it is due,
// retires the keys whose tokens have all expired, and swaps in the new
// Set. A key that cannot be opened is left out and reported in the
// error; the others are used.
func (s *Server) refreshKeys(ctx context.Context) (err error) {
	ctx, span := s.obs.tracer.Start(ctx, "tollgate.keys.refresh")
	defer endSpan(span, &err)
	r := s.rot
	r.mu.Lock()
	defer r.mu.Unlock()
	now := s.cfg.Now()
	all, err := storedSigningKeys(ctx, r.ks)
	if err != nil {
		return err
	}
	cur := live(all)
	if len(cur) == 0 {
		return errors.New("the KeyStore holds no signing key that is not retired")
	}
	if slot := keyFrom(cur[len(cur)-1]).Add(r.cfg.Every); !slot.Add(-r.cfg.PublishAhead).After(now) {
		from := slot
		if soonest := now.Add(r.cfg.PublishAhead); from.Before(soonest) {
			from = soonest
		}
		stored, err := s.addKey(ctx, rotationKID(slot), from, now)
		if err != nil {
			return err
		}
		if stored {
			s.obs.keyEvent(ctx, AuditKeyRotated, rotationKID(slot), from, false)
		}
		s.log.Info("next signing key published", "kid", rotationKID(slot), "signs_from", from)
		if all, err = storedSigningKeys(ctx, r.ks); err != nil {
			return err
		}
		cur = live(all)
	}
	cur, err = s.retireExpired(ctx, cur, now)
	if err != nil {
		return err
	}
	return s.swapKeys(cur)
}

// retireExpired retires every key whose successor has signed long enough
// for the last token it signed to have expired, and returns the keys
// left.
func (s *Server) retireExpired(ctx context.Context, cur []*storage.SigningKey, now time.Time) ([]*storage.SigningKey, error) {
	var after time.Duration
	keep := cur[:0:0]
	for i, k := range cur {
		if i == len(cur)-1 || keyFrom(cur[i+1]).After(now) {
			keep = append(keep, cur[i:]...)
			break
		}
		if after == 0 {
			var err error
			if after, err = s.retireAfter(ctx); err != nil {
				// Not knowing how long tokens live, retire nothing now.
				s.log.Warn("signing keys not retired this round", "error", err)
				return cur, nil
			}
		}
		if !now.After(keyFrom(cur[i+1]).Add(after + s.rot.period)) {
			keep = append(keep, k)
			continue
		}
		if err := s.rot.ks.RetireSigningKey(ctx, k.ID, now); err != nil {
			return nil, fmt.Errorf("retiring signing key %q: %w", k.ID, err)
		}
		s.log.Info("signing key retired: every token it signed has expired", "kid", k.ID)
		s.obs.keyEvent(ctx, AuditKeyRetired, k.ID, time.Time{}, false)
	}
	return keep, nil
}

// retireAfter is how long a key stays published after it stops signing.
func (s *Server) retireAfter(ctx context.Context) (time.Duration, error) {
	if s.rot.cfg.RetireAfter > 0 {
		return s.rot.cfg.RetireAfter, nil
	}
	ttl := s.cfg.AccessTokenTTL
	// cfg.Clients, not s.clients: the client cache in front of it cannot
	// list, and a lifetime missed here would retire a key too early.
	if l, ok := s.cfg.Clients.(interface {
		ListClients(context.Context) ([]*storage.Client, error)
	}); ok {
		list, err := observe(ctx, s.obs, opListClients, l.ListClients)
		if err != nil {
			return 0, fmt.Errorf("listing the clients for their token lifetimes: %w", err)
		}
		for _, c := range list {
			ttl = max(ttl, c.AccessTokenTTL)
		}
	}
	return ttl + verifierLeeway, nil
}

// addKey makes and stores a key that signs from from, unless another
// instance stored one under kid first (storedKey reads it then; stored
// is false).
func (s *Server) addKey(ctx context.Context, kid string, from, now time.Time) (stored bool, err error) {
	_, stored, err = storedSigningKey(ctx, s.rot.ks, s.rot.kek,
		storage.SigningKey{ID: kid, Algorithm: s.rot.cfg.Algorithm, CreatedAt: now, ActiveFrom: from}, s.cfg.Rand)
	if err != nil {
		return false, fmt.Errorf("making signing key %q: %w", kid, err)
	}
	return stored, nil
}

// swapKeys makes the Set of cur, newest first, the Server's.
func (s *Server) swapKeys(cur []*storage.SigningKey) error {
	var list []*keys.Key
	var errs []error
	for _, rec := range slices.Backward(cur) {
		k, err := s.rot.open(rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		list = append(list, k)
	}
	if len(list) == 0 {
		return errors.Join(append(errs, errors.New("no signing key could be opened"))...)
	}
	set, err := keys.NewSet(list...)
	if err != nil {
		return err
	}
	s.keys.Store(set)
	return errors.Join(errs...)
}

// open unseals and parses a stored key, once per kid: a record never
// changes but for its retirement.
func (r *rotation) open(rec *storage.SigningKey) (*keys.Key, error) {
	if k := r.parsed[rec.ID]; k != nil {
		return k, nil
	}
	pem, err := unsealKey(rec, r.kek)
	if err != nil {
		return nil, fmt.Errorf("signing key %q: %w", rec.ID, err)
	}
	priv, err := parseStoredSigningKey(rec.ID, pem)
	if err != nil {
		return nil, err
	}
	k, err := keys.New(rec.ID, rec.Algorithm, priv)
	if err != nil {
		return nil, err
	}
	k.ActiveFrom = keyFrom(rec)
	r.parsed[rec.ID] = k
	return k, nil
}

// loop re-reads the keys every period until Close.
func (s *Server) rotationLoop() {
	defer close(s.rot.done)
	t := time.NewTicker(s.rot.period)
	defer t.Stop()
	for {
		select {
		case <-s.rot.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), keyRefreshTimeout)
		if err := s.refreshKeys(ctx); err != nil {
			s.log.Warn("re-reading the signing keys failed; signing with the keys read before", "error", err)
		}
		cancel()
	}
}

// Close stops the Server's background work: the re-reading of the
// signing keys when they rotate. It does not wait for requests in
// flight; the Server keeps answering with the keys it holds.
func (s *Server) Close() error {
	if s.rot != nil {
		s.rot.closeOnce.Do(func() { close(s.rot.stop) })
		<-s.rot.done
	}
	return nil
}

// RotateKeys makes a new signing key that signs from activeFrom, and
// returns it. Zero activeFrom is PublishAhead from now, the safe choice:
// resource servers have the key before any token it signed reaches them.
// An earlier time makes it sign sooner, before some resource servers may
// have re-read the JWKS. The schedule goes on from the new key. Other
// instances pick it up at their next re-read; this one at once.
func (s *Server) RotateKeys(ctx context.Context, activeFrom time.Time) (_ KeyInfo, err error) {
	if s.rot == nil {
		return KeyInfo{}, ErrRotationOff
	}
	ctx, span := s.obs.tracer.Start(ctx, "tollgate.keys.rotate")
	defer endSpan(span, &err)
	now := s.cfg.Now()
	if activeFrom.IsZero() {
		activeFrom = now.Add(s.rot.cfg.PublishAhead)
	}
	kid := rotationKID(activeFrom)
	s.rot.mu.Lock()
	stored, err := s.addKey(ctx, kid, activeFrom, now)
	s.rot.mu.Unlock()
	if err != nil {
		return KeyInfo{}, err
	}
	if stored {
		s.obs.keyEvent(ctx, AuditKeyRotated, kid, activeFrom, true)
	}
	if err := s.refreshKeys(ctx); err != nil {
		return KeyInfo{}, err
	}
	infos, err := s.SigningKeys(ctx)
	if err != nil {
		return KeyInfo{}, err
	}
	for _, in := range infos {
		if in.ID == kid {
			return in, nil
		}
	}
	return KeyInfo{}, fmt.Errorf("handler: signing key %q was stored but is not there", kid)
}

// RetireKey retires the key kid at once: it leaves the JWKS, and tokens
// it signed stop verifying wherever resource servers re-read it. For a
// key believed stolen; the schedule retires keys by itself. The key that
// signs now cannot be retired: rotate first. A key already retired is
// left as it was.
func (s *Server) RetireKey(ctx context.Context, kid string) (err error) {
	if s.rot == nil {
		return ErrRotationOff
	}
	ctx, span := s.obs.tracer.Start(ctx, "tollgate.keys.retire")
	defer endSpan(span, &err)
	s.rot.mu.Lock()
	err = s.retireKey(ctx, kid)
	s.rot.mu.Unlock()
	if err != nil {
		return err
	}
	return s.refreshKeys(ctx)
}

func (s *Server) retireKey(ctx context.Context, kid string) error {
	all, err := storedSigningKeys(ctx, s.rot.ks)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(k *storage.SigningKey) bool { return k.ID == kid })
	switch {
	case i < 0:
		return fmt.Errorf("handler: no signing key %q: %w", kid, storage.ErrNotFound)
	case !all[i].RetiredAt.IsZero():
		return nil
	case signerAt(live(all), s.cfg.Now()).ID == kid:
		return fmt.Errorf("handler: signing key %q signs now: rotate to a new key first", kid)
	}
	if err := s.rot.ks.RetireSigningKey(ctx, kid, s.cfg.Now()); err != nil {
		return fmt.Errorf("handler: retiring signing key %q: %w", kid, err)
	}
	s.log.Warn("signing key retired by hand: tokens it signed stop verifying", "kid", kid)
	s.obs.keyEvent(ctx, AuditKeyRetired, kid, time.Time{}, true)
	return nil
}

// SigningKeys lists the signing keys kept in the KeyStore, retired ones
// too, oldest first, marking the one that signs now.
func (s *Server) SigningKeys(ctx context.Context) ([]KeyInfo, error) {
	ks := s.keyStore
	if ks == nil {
		return nil, errors.New("handler: no Config.KeyStore")
	}
	all, err := storedSigningKeys(ctx, ks)
	if err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	signer := s.keys.Load().SigningAt(s.cfg.Now()).ID
	out := make([]KeyInfo, len(all))
	for i, k := range all {
		out[i] = KeyInfo{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, ActiveFrom: keyFrom(k),
			RetiredAt: k.RetiredAt, Signing: k.ID == signer}
	}
	return out, nil
}
