package middleware

import (
	"errors"
	"fmt"
)

// Ready reports whether the set can verify tokens: nil once it holds keys.
// A fixed set ([LocalKeys]) always is. A remote set built with
// [RemoteOptions.RetryStartup] is not until its first good fetch (the
// error then wraps the last fetch's); one built without it is ready when
// its constructor returns.
//
// A set stays ready once it has keys, however long the issuer has been
// unreachable since: the last good set keeps verifying every token signed
// by a key it holds, so calling an instance unready then would take
// every instance out of its load balancer for the tokens they can still
// serve. Watch tollgate_middleware_jwks_age_seconds (see [Metrics]) for a
// set that stopped refreshing.
func (ks *KeySet) Ready() error {
	if ks.current.Load() != nil {
		return nil
	}
	if ks.remote != nil {
		if err := ks.remote.lastErr.Load(); err != nil {
			return fmt.Errorf("middleware: no keys fetched yet: %w", *err)
		}
	}
	return errors.New("middleware: no keys fetched yet")
}

// Ready reports whether m can accept a valid token now, for a readiness
// probe: its key set is ready ([KeySet.Ready]), and, when its
// [Config.Revocations] fails closed ([RevocationOptions.FailClosed]), the
// revocation set is fresh enough that requests do not get 503. A fail-open
// revocation set never makes m unready. It is cheap (a few atomic loads)
// and never blocks.
func (m *Middleware) Ready() error {
	if err := m.cfg.Keys.Ready(); err != nil {
		return err
	}
	if rv := m.cfg.Revocations; rv != nil && rv.opts.FailClosed && !rv.current.Load().fresh(m.cfg.Now(), rv.opts.MaxDelay) {
		return errors.New("middleware: the revocation set is out of date and fails closed")
	}
	return nil
}
