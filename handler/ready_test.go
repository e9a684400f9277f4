package handler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// pingStore is a memory store whose backend can be switched off, counting
// the pings it gets.
type pingStore struct {
	*memory.Store
	down  bool
	pings int
}

func (p *pingStore) Ping(context.Context) error {
	p.pings++
	if p.down {
		return storage.ErrUnavailable
	}
	return nil
}

func TestReadyAsksEachStoreOnceAndNamesTheFailingOnes(t *testing.T) {
	t.Parallel()
	shared, tokens := &pingStore{Store: memory.New()}, &pingStore{Store: memory.New()}
	_, srv := newServer(t, func(c *handler.Config) {
		c.Clients, c.KeyStore, c.Consents = shared, shared, shared
		c.Tokens = tokens
	})
	if err := srv.Ready(context.Background()); err != nil {
		t.Fatalf("Ready with both stores up: %v", err)
	}
	if shared.pings != 1 || tokens.pings != 1 {
		t.Errorf("pings: shared %d, tokens %d; want one each (a store given as several fields is asked once)", shared.pings, tokens.pings)
	}
	tokens.down = true
	err := srv.Ready(context.Background())
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "Config.Tokens") || strings.Contains(err.Error(), "Config.Clients") {
		t.Errorf("Ready with Tokens down = %v; want ErrUnavailable naming Config.Tokens only", err)
	}
}

func TestReadyWithMemoryStoresHasNothingToAsk(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, nil)
	if err := srv.Ready(context.Background()); err != nil {
		t.Errorf("Ready = %v", err)
	}
}

// Through a real PostgreSQL: a database that stops answering makes Ready
// fail within the probe's deadline, and it recovers when the database
// answers again.
func TestReadyFollowsThePostgreSQLConnection(t *testing.T) {
	t.Parallel()
	_, proxied, proxy := sqPostgresPair(t)
	_, srv := newServer(t, func(c *handler.Config) { c.Clients, c.Tokens, c.KeyStore = proxied, proxied, proxied })
	probe := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return srv.Ready(ctx)
	}
	if err := probe(); err != nil {
		t.Fatalf("Ready with the database up: %v", err)
	}
	proxy.Pause()
	start := time.Now()
	err := probe()
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ready with the database silent = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Ready took %v to give up, want about the probe's 1 s", took)
	}
	proxy.Resume()
	if err := probe(); err != nil {
		t.Errorf("Ready after the database came back: %v", err)
	}
}
