package storagetest

import (
	"maps"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Stores that keep one kind of data each, as an application's own might:
// each has only its interface's methods.
type (
	onlyClients  struct{ storage.ClientStore }
	onlyTokens   struct{ storage.TokenStore }
	onlyKeys     struct{ storage.KeyStore }
	onlyConsents struct{ storage.ConsentStore }
	tokensAndKey struct {
		storage.TokenStore
		storage.KeyStore
	}
)

// TestRunPicksRunners: Run runs the cases of every interface its store
// type has and no others, as the stores' constructors see them called.
func TestRunPicksRunners(t *testing.T) {
	clients := append(names(getterCases), names(clientCases)...)
	all := slices.Concat(clients, names(tokenCases), names(keyCases), names(consentCases))
	tests := []struct {
		name string
		run  func(t *testing.T, made func(*testing.T))
		want []string
	}{
		{"storage.Store", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) storage.Store { made(t); return memory.New() })
		}, all},
		{"*memory.Store", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) *memory.Store { made(t); return memory.New() })
		}, all},
		{"NewStore", func(t *testing.T, made func(*testing.T)) {
			Run(t, NewStore(func(t *testing.T) storage.Store { made(t); return memory.New() }))
		}, all},
		{"clients only", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) onlyClients { made(t); return onlyClients{memory.New()} })
		}, clients},
		{"tokens only", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) onlyTokens { made(t); return onlyTokens{memory.New()} })
		}, names(tokenCases)},
		{"keys only", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) onlyKeys { made(t); return onlyKeys{memory.New()} })
		}, names(keyCases)},
		{"consents only", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) onlyConsents { made(t); return onlyConsents{memory.New()} })
		}, names(consentCases)},
		{"tokens and keys", func(t *testing.T, made func(*testing.T)) {
			Run(t, func(t *testing.T) tokensAndKey { made(t); m := memory.New(); return tokensAndKey{m, m} })
		}, slices.Concat(names(tokenCases), names(keyCases))},
		{"RunClientGetter", func(t *testing.T, made func(*testing.T)) {
			RunClientGetter(t, func(t *testing.T, clients []*storage.Client) storage.ClientGetter {
				made(t)
				m := memory.New()
				for _, c := range clients {
					mustCreate(t, m, c)
				}
				return m
			})
		}, names(getterCases)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			ran := map[string]bool{}
			made := func(t *testing.T) {
				mu.Lock()
				defer mu.Unlock()
				ran[path.Base(t.Name())] = true
			}
			t.Run("suite", func(t *testing.T) { tt.run(t, made) }) // returns once its parallel cases have
			got := slices.Sorted(maps.Keys(ran))
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("cases run:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func names[S any](cases []testCase[S]) []string {
	var out []string
	for _, c := range cases {
		out = append(out, c.name)
	}
	return out
}
