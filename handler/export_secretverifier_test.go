package handler

// SetVerifierHook is SetSlowHashHook for a SecretVerifier.
func SetVerifierHook(sv *SecretVerifier, f func(SlowHash)) { sv.v.SetHook(f) }
