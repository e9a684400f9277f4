package handler

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The stores as the Server calls them when it is watched (Config.Metrics
// or Config.TracerProvider): each call gets a span under the request's
// (none for background work outside a span) and its failures are counted
// by operation. The Server finds the optional interfaces it uses
// (storage.KeyStore, storage.ConsentStore, storage.ClientChanges, a
// ClientStore's ListClients) on the stores as given, before it wraps them,
// and the wrappers of Config.Tokens and Config.Clients keep the ones the
// provider and the client cache look for (legacy refresh tokens,
// storage.ClientChanges).

// storeOp names a store method in metrics and spans.
type storeOp uint8

const (
	opGetClient storeOp = iota
	opClientsVersion
	opListClients
	opCreateCode
	opGetCode
	opUseCode
	opCreateFamily
	opGetFamily
	opAdvanceFamily
	opRevokeFamiliesOf
	opRevokeAccessToken
	opRevokeFamily
	opAccessTokenRevoked
	opRevocations
	opDeleteExpired
	opLegacyRefreshFamily
	opAddSigningKey
	opSigningKeys
	opRetireSigningKey
	opGetConsent
	opSaveConsent
	opDeleteConsent
	opListConsents
	numStoreOps
)

var storeOpNames = [numStoreOps]string{
	"get_client", "clients_version", "list_clients",
	"create_code", "get_code", "use_code",
	"create_family", "get_family", "advance_family", "revoke_families_of",
	"revoke_access_token", "revoke_family", "access_token_revoked", "revocations",
	"delete_expired", "legacy_refresh_family",
	"add_signing_key", "signing_keys", "retire_signing_key",
	"get_consent", "save_consent", "delete_consent", "list_consents",
}

var storeOpSpans = func() (out [numStoreOps]string) {
	for i, n := range storeOpNames {
		out[i] = "tollgate.store." + n
	}
	return out
}()

// storeResult names how a store call ended. Not found, already used and
// already exists are answers the Server acts on, and a canceled context
// is the caller gone: none is a storage failure.
func storeResult(err error) (result string, failed bool) {
	switch {
	case err == nil:
		return "ok", false
	case errors.Is(err, storage.ErrNotFound):
		return "not_found", false
	case errors.Is(err, storage.ErrAlreadyUsed):
		return "already_used", false
	case errors.Is(err, storage.ErrAlreadyExists):
		return "already_exists", false
	case errors.Is(err, context.Canceled):
		return "canceled", false
	case errors.Is(err, storage.ErrUnavailable):
		return "unavailable", true
	}
	return "error", true
}

// observe runs one store call under its span and counts its failure.
func observe[T any](ctx context.Context, o *observer, op storeOp, call func(context.Context) (T, error)) (T, error) {
	ctx, span := o.tracer.Child(ctx, storeOpSpans[op])
	v, err := call(ctx)
	result, failed := storeResult(err)
	if failed && o.metrics != nil {
		o.metrics.storeErrors[op].Inc()
	}
	if span.On() {
		span.String("tollgate.store.result", result)
		if failed {
			span.Fail(result)
		}
		span.End()
	}
	return v, err
}

// observe0 is observe for a call that returns only an error.
func observe0(ctx context.Context, o *observer, op storeOp, call func(context.Context) error) error {
	_, err := observe(ctx, o, op, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) })
	return err
}

// observedClients is Config.Clients.
type observedClients struct {
	next storage.ClientGetter
	o    *observer
}

func (c observedClients) GetClient(ctx context.Context, id string) (*storage.Client, error) {
	return observe(ctx, c.o, opGetClient, func(ctx context.Context) (*storage.Client, error) { return c.next.GetClient(ctx, id) })
}

// observedChanges is Config.Clients when it is a storage.ClientChanges.
type observedChanges struct {
	observedClients
	changes storage.ClientChanges
}

func (c observedChanges) ClientsVersion(ctx context.Context) (uint64, error) {
	return observe(ctx, c.o, opClientsVersion, c.changes.ClientsVersion)
}

// ClientsWritten does no I/O: nothing to watch.
func (c observedChanges) ClientsWritten() uint64 { return c.changes.ClientsWritten() }

// observeClients wraps clients, keeping storage.ClientChanges if it has it.
func observeClients(clients storage.ClientGetter, o *observer) storage.ClientGetter {
	w := observedClients{next: clients, o: o}
	if changes, ok := clients.(storage.ClientChanges); ok {
		return observedChanges{observedClients: w, changes: changes}
	}
	return w
}

// observedTokens is Config.Tokens.
type observedTokens struct {
	next storage.TokenStore
	o    *observer
}

// observedLegacyTokens is Config.Tokens when it holds refresh tokens from
// before families (provider.LegacyRefreshStore).
type observedLegacyTokens struct {
	observedTokens
	legacy provider.LegacyRefreshStore
}

func (t observedLegacyTokens) LegacyRefreshFamily(ctx context.Context, signature string) (family string, active bool, err error) {
	type found struct {
		family string
		active bool
	}
	f, err := observe(ctx, t.o, opLegacyRefreshFamily, func(ctx context.Context) (found, error) {
		family, active, err := t.legacy.LegacyRefreshFamily(ctx, signature)
		return found{family, active}, err
	})
	return f.family, f.active, err
}

// observeTokens wraps tokens, keeping provider.LegacyRefreshStore if it
// has it.
func observeTokens(tokens storage.TokenStore, o *observer) storage.TokenStore {
	w := observedTokens{next: tokens, o: o}
	if legacy, ok := tokens.(provider.LegacyRefreshStore); ok {
		return observedLegacyTokens{observedTokens: w, legacy: legacy}
	}
	return w
}

func (t observedTokens) CreateCode(ctx context.Context, c *storage.AuthorizationCode) error {
	return observe0(ctx, t.o, opCreateCode, func(ctx context.Context) error { return t.next.CreateCode(ctx, c) })
}

func (t observedTokens) GetCode(ctx context.Context, signature string) (*storage.AuthorizationCode, error) {
	return observe(ctx, t.o, opGetCode, func(ctx context.Context) (*storage.AuthorizationCode, error) {
		return t.next.GetCode(ctx, signature)
	})
}

func (t observedTokens) UseCode(ctx context.Context, signature string) error {
	return observe0(ctx, t.o, opUseCode, func(ctx context.Context) error { return t.next.UseCode(ctx, signature) })
}

func (t observedTokens) CreateFamily(ctx context.Context, f *storage.Family) error {
	return observe0(ctx, t.o, opCreateFamily, func(ctx context.Context) error { return t.next.CreateFamily(ctx, f) })
}

func (t observedTokens) GetFamily(ctx context.Context, id string) (*storage.Family, error) {
	return observe(ctx, t.o, opGetFamily, func(ctx context.Context) (*storage.Family, error) { return t.next.GetFamily(ctx, id) })
}

func (t observedTokens) AdvanceFamily(ctx context.Context, id string, from uint64, expiresAt, accessExpiresAt time.Time) error {
	return observe0(ctx, t.o, opAdvanceFamily, func(ctx context.Context) error {
		return t.next.AdvanceFamily(ctx, id, from, expiresAt, accessExpiresAt)
	})
}

func (t observedTokens) RevokeFamiliesOf(ctx context.Context, subject, clientID string, until time.Time) (int, error) {
	return observe(ctx, t.o, opRevokeFamiliesOf, func(ctx context.Context) (int, error) {
		return t.next.RevokeFamiliesOf(ctx, subject, clientID, until)
	})
}

func (t observedTokens) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	return observe0(ctx, t.o, opRevokeAccessToken, func(ctx context.Context) error { return t.next.RevokeAccessToken(ctx, jti, exp) })
}

func (t observedTokens) RevokeFamily(ctx context.Context, family string, until time.Time) error {
	return observe0(ctx, t.o, opRevokeFamily, func(ctx context.Context) error { return t.next.RevokeFamily(ctx, family, until) })
}

func (t observedTokens) AccessTokenRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	return observe(ctx, t.o, opAccessTokenRevoked, func(ctx context.Context) (bool, error) {
		return t.next.AccessTokenRevoked(ctx, jti, grantID)
	})
}

func (t observedTokens) Revocations(ctx context.Context, after uint64, now time.Time, limit int) (*storage.RevocationPage, error) {
	return observe(ctx, t.o, opRevocations, func(ctx context.Context) (*storage.RevocationPage, error) {
		return t.next.Revocations(ctx, after, now, limit)
	})
}

func (t observedTokens) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	return observe(ctx, t.o, opDeleteExpired, func(ctx context.Context) (int, error) { return t.next.DeleteExpired(ctx, now, limit) })
}

// observedKeys is the KeyStore the rotation uses.
type observedKeys struct {
	next storage.KeyStore
	o    *observer
}

func (k observedKeys) AddSigningKey(ctx context.Context, key *storage.SigningKey) error {
	return observe0(ctx, k.o, opAddSigningKey, func(ctx context.Context) error { return k.next.AddSigningKey(ctx, key) })
}

func (k observedKeys) SigningKeys(ctx context.Context) ([]*storage.SigningKey, error) {
	return observe(ctx, k.o, opSigningKeys, k.next.SigningKeys)
}

func (k observedKeys) RetireSigningKey(ctx context.Context, id string, at time.Time) error {
	return observe0(ctx, k.o, opRetireSigningKey, func(ctx context.Context) error { return k.next.RetireSigningKey(ctx, id, at) })
}

// observedConsents is the Server's ConsentStore.
type observedConsents struct {
	next storage.ConsentStore
	o    *observer
}

func (c observedConsents) GetConsent(ctx context.Context, subject, clientID string) (*storage.Consent, error) {
	return observe(ctx, c.o, opGetConsent, func(ctx context.Context) (*storage.Consent, error) {
		return c.next.GetConsent(ctx, subject, clientID)
	})
}

func (c observedConsents) SaveConsent(ctx context.Context, consent *storage.Consent) error {
	return observe0(ctx, c.o, opSaveConsent, func(ctx context.Context) error { return c.next.SaveConsent(ctx, consent) })
}

func (c observedConsents) DeleteConsent(ctx context.Context, subject, clientID string) error {
	return observe0(ctx, c.o, opDeleteConsent, func(ctx context.Context) error { return c.next.DeleteConsent(ctx, subject, clientID) })
}

func (c observedConsents) ListConsents(ctx context.Context, subject string) ([]*storage.Consent, error) {
	return observe(ctx, c.o, opListConsents, func(ctx context.Context) ([]*storage.Consent, error) {
		return c.next.ListConsents(ctx, subject)
	})
}
