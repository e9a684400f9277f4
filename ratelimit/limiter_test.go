package ratelimit_test

import (
	"context"
	"testing"

	"github.com/tollgate-oauth/tollgate/ratelimit"
)

// TestNewRates: off is a nil Limiter that allows everything, a bad rate is
// an error, a good one counts.
func TestNewRates(t *testing.T) {
	t.Parallel()
	store := ratelimit.NewMemoryStore()
	for _, tt := range []struct {
		rate    string
		wantNil bool
		wantErr bool
	}{
		{rate: "5-M"},
		{rate: ratelimit.Off, wantNil: true},
		{rate: "", wantNil: true, wantErr: true},
		{rate: "5/M", wantNil: true, wantErr: true},
	} {
		l, err := ratelimit.New(store, tt.rate, "p:")
		if (err != nil) != tt.wantErr || (l == nil) != tt.wantNil {
			t.Errorf("New(%q) = %v, %v; want nil %v, error %v", tt.rate, l, err, tt.wantNil, tt.wantErr)
		}
	}
	var off *ratelimit.Limiter
	ctx := context.Background()
	for range 100 {
		if c, err := off.Take(ctx, "k"); err != nil || c.Reached {
			t.Fatalf("a nil Limiter refused: %+v, %v", c, err)
		}
	}
	if c, err := off.Peek(ctx, "k"); err != nil || c.Reached || c.Limit != 0 {
		t.Errorf("a nil Limiter's Peek = %+v, %v; want no limit", c, err)
	}
	if err := off.Refund(ctx, "k"); err != nil {
		t.Errorf("a nil Limiter's Refund: %v", err)
	}
}

// TestTakeRefundPrefix walks one key through its budget: each Take counts,
// the one past the limit is Reached, a Refund gives one back, Peek counts
// nothing, and another prefix in the same store has a budget of its own.
func TestTakeRefundPrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := ratelimit.NewMemoryStore()
	a, _ := ratelimit.New(store, "2-M", "a:")
	b, _ := ratelimit.New(store, "2-M", "b:")
	type state struct {
		remaining int64
		reached   bool
	}
	for _, st := range []struct {
		name string
		do   func() (remaining int64, reached bool, err error)
		want state
	}{
		{"first", take(ctx, a, "k"), state{1, false}},
		{"second", take(ctx, a, "k"), state{0, false}},
		{"peek counts nothing", peek(ctx, a, "k"), state{0, false}},
		{"third is refused", take(ctx, a, "k"), state{0, true}},
		{"another prefix is apart", take(ctx, b, "k"), state{1, false}},
		{"another key is apart", take(ctx, a, "other"), state{1, false}},
		{"refund", func() (int64, bool, error) {
			if err := a.Refund(ctx, "k"); err != nil {
				return 0, false, err
			}
			return peek(ctx, a, "k")()
		}, state{0, false}},
		{"a second refund frees one", func() (int64, bool, error) {
			if err := a.Refund(ctx, "k"); err != nil {
				return 0, false, err
			}
			return peek(ctx, a, "k")()
		}, state{1, false}},
		{"so one more passes", take(ctx, a, "k"), state{0, false}},
	} {
		rem, reached, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := (state{rem, reached}); got != st.want {
			t.Fatalf("%s: %+v, want %+v", st.name, got, st.want)
		}
	}
}

func take(ctx context.Context, l *ratelimit.Limiter, key string) func() (int64, bool, error) {
	return func() (int64, bool, error) {
		c, err := l.Take(ctx, key)
		return c.Remaining, c.Reached, err
	}
}

func peek(ctx context.Context, l *ratelimit.Limiter, key string) func() (int64, bool, error) {
	return func() (int64, bool, error) {
		c, err := l.Peek(ctx, key)
		return c.Remaining, c.Reached, err
	}
}
