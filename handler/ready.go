package handler

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/tollgate-oauth/tollgate/storage"
)

// Ready reports whether s can serve now: every store s was given that can
// be asked ([storage.Pinger]: storage/sqlstore's can; storage/memory has
// no backend to lose) answers within ctx. It is what a readiness probe
// asks; bound ctx (a second is plenty), since a database that has gone
// away answers nothing. Each failing store is in the error, joined, named
// by its Config field. Keys need no check: [New] does not return before
// they are loaded, and a Server keeps them in memory.
func (s *Server) Ready(ctx context.Context) error {
	var (
		errs  []error
		asked []storage.Pinger
	)
	for _, st := range []struct {
		field string
		store any
	}{
		{"Clients", s.cfg.Clients}, {"Tokens", s.cfg.Tokens}, {"KeyStore", s.cfg.KeyStore}, {"Consents", s.cfg.Consents},
	} {
		p, ok := st.store.(storage.Pinger)
		if !ok || askedAlready(asked, p) {
			continue // one store is often all four: ask it once
		}
		asked = append(asked, p)
		if err := p.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("store in Config.%s: %w", st.field, err))
		}
	}
	return errors.Join(errs...)
}

// askedAlready reports whether p is among asked. Only comparable values
// are compared: == on a store held by value with a slice in it would
// panic.
func askedAlready(asked []storage.Pinger, p storage.Pinger) bool {
	if !reflect.TypeOf(p).Comparable() {
		return false
	}
	for _, a := range asked {
		if reflect.TypeOf(a) == reflect.TypeOf(p) && a == p {
			return true
		}
	}
	return false
}
