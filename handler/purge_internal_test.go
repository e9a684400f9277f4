package handler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// batchStore records the purge's DeleteExpired calls, deleting what it is
// told it has in steps as given.
type batchStore struct {
	storage.TokenStore
	left   int
	slow   time.Duration // each call takes this long
	limits []int
	err    error
}

func (b *batchStore) DeleteExpired(_ context.Context, _ time.Time, limit int) (int, error) {
	b.limits = append(b.limits, limit)
	time.Sleep(b.slow) // the batch's own cost, which the purge adapts to
	if b.err != nil {
		return 0, b.err
	}
	n := min(limit, b.left)
	b.left -= n
	return n, nil
}

// TestPurgeBatches: the purge deletes in batches until one comes back
// short, growing fast batches and shrinking slow ones within bounds, and
// stops at the first error.
func TestPurgeBatches(t *testing.T) {
	tests := []struct {
		name      string
		store     *batchStore
		wantTotal int
		wantErr   bool
		grows     bool // later batches larger than the first
		shrinks   bool // later batches smaller than the first
		wantCalls int  // 0: any
	}{
		{name: "nothing to do", store: &batchStore{}, wantCalls: 1},
		{name: "fast batches grow", store: &batchStore{left: 3000}, wantTotal: 3000, grows: true},
		{name: "slow batches shrink", store: &batchStore{left: 700, slow: 3 * purgeBatchTime}, wantTotal: 700, shrinks: true},
		{name: "an error stops it", store: &batchStore{left: 10, err: errors.New("down")}, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{tokens: tt.store}
			n, err := s.purgeExpired(context.Background(), time.Now())
			if n != tt.wantTotal || (err != nil) != tt.wantErr {
				t.Errorf("purgeExpired = %d, %v; want %d, error %v", n, err, tt.wantTotal, tt.wantErr)
			}
			l := tt.store.limits
			if tt.wantCalls != 0 && len(l) != tt.wantCalls {
				t.Errorf("%d calls (%v), want %d", len(l), l, tt.wantCalls)
			}
			for _, b := range l {
				if b < purgeMinBatch || b > purgeMaxBatch {
					t.Errorf("batch of %d, outside [%d, %d]", b, purgeMinBatch, purgeMaxBatch)
				}
			}
			if tt.grows && l[len(l)-1] <= l[0] {
				t.Errorf("batches %v did not grow", l)
			}
			if tt.shrinks && l[len(l)-1] >= l[0] {
				t.Errorf("batches %v did not shrink", l)
			}
		})
	}
}

// TestPurgeStopsWithContext: a purge past its time gives up between
// batches.
func TestPurgeStopsWithContext(t *testing.T) {
	s := &Server{tokens: &batchStore{TokenStore: memory.New(), left: 1 << 30}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.purgeExpired(ctx, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("purgeExpired with a done context: %v, want context.Canceled", err)
	}
}
