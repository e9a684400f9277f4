package handler

import (
	"context"

	"github.com/tollgate-oauth/tollgate/internal/secret"
)

// SlowHash is one slow hash the server ran, as its tests see it.
type SlowHash = secret.Run

// SetSlowHashHook makes f see every slow hash s runs, called with its slot
// held just before the hash: tests count which kind ran, or block to fill
// Config.MaxSlowHashes, instead of measuring time.
func SetSlowHashHook(s *Server, f func(SlowHash)) { s.verifier.SetHook(f) }

// RefreshKeys runs one re-read of the signing keys now, as the background
// loop does every period: tests move their clock and call it instead of
// waiting for the loop.
func RefreshKeys(s *Server) error { return s.refreshKeys(context.Background()) }
