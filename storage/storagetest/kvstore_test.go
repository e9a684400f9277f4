package storagetest_test

import (
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/storagetest"
)

// TestKVStoreConformance runs the suite on ExampleRun's kvStore, an
// application's own client store over an embedded memory.Store: the
// pattern the example shows passes.
func TestKVStoreConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newKVStore() })
}
