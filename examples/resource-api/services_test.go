package main

import (
	"os"
	"testing"
)

// redisURL is the test Redis, from TOLLGATE_TEST_REDIS (as tollgate's own
// tests read it): without it the test is skipped, except under CI=true,
// where every test must run.
func redisURL(t testing.TB) string {
	t.Helper()
	v := os.Getenv("TOLLGATE_TEST_REDIS")
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TOLLGATE_TEST_REDIS is not set: CI must run every test")
		}
		t.Skip("TOLLGATE_TEST_REDIS is not set (e.g. redis://127.0.0.1:6379/0); skipping")
	}
	return v
}
