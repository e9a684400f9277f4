package handler

import "github.com/tollgate-oauth/tollgate/internal/secret"

// SlowHash is one slow hash the server ran, as its tests see it.
type SlowHash = secret.Run

// SetSlowHashHook makes f see every slow hash s runs, called with its slot
// held just before the hash: tests count which kind ran, or block to fill
// Config.MaxSlowHashes, instead of measuring time.
func SetSlowHashHook(s *Server, f func(SlowHash)) { s.verifier.SetHook(f) }
