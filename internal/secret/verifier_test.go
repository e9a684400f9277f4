package secret

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The kinds a Verifier learns, and the dummy runs it draws from them,
// counted through the hook rather than timed.

func hookRecorder(v *Verifier) func() []Run {
	var mu sync.Mutex
	var runs []Run
	v.SetHook(func(r Run) { mu.Lock(); runs = append(runs, r); mu.Unlock() })
	return func() []Run {
		mu.Lock()
		defer mu.Unlock()
		out := runs
		runs = nil
		return out
	}
}

func TestDummyDrawsFromTheStoresMix(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	runs := hookRecorder(v)
	b4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	b5, _ := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	// Three clients at cost 4, one at cost 5: a quarter of the unknown ids
	// should cost cost 5.
	for i, h := range [][]byte{b4, b4, b4, b5} {
		if ok, err := v.Check(fmt.Sprint("client-", i), string(h), "wrong"); ok || err != nil {
			t.Fatalf("Check = %v, %v", ok, err)
		}
	}
	runs()
	// The draw itself, without running 800 hashes.
	count := map[string]int{}
	for i := range 400 {
		id := fmt.Sprint("ghost-", i)
		k := v.kinds.pick(v.key[:], id)
		count[k.name]++
		if again := v.kinds.pick(v.key[:], id); again != k { // one id always draws the same kind
			t.Fatalf("ghost-%d drew %s, then %s", i, k.name, again.name)
		}
	}
	if len(count) != 2 || count["bcrypt:cost=5"] < 50 || count["bcrypt:cost=5"] > 150 {
		t.Errorf("kinds drawn for 400 unknown ids: %v; want about 300 cost 4 and 100 cost 5", count)
	}
	// And Dummy runs what it draws.
	for i := range 8 {
		id := fmt.Sprint("ghost-", i)
		if err := v.Dummy(id, "x"); err != nil {
			t.Fatal(err)
		}
		want := Run{Kind: v.kinds.pick(v.key[:], id).name, Dummy: true}
		if r := runs(); len(r) != 1 || r[0] != want {
			t.Fatalf("Dummy(%q) ran %+v, want %+v", id, r, want)
		}
	}

	// A client whose hash changes kind moves its weight.
	for i := range 3 {
		v.Check(fmt.Sprint("client-", i), string(b5), "wrong")
	}
	runs()
	for i := range 100 {
		if k := v.kinds.pick(v.key[:], fmt.Sprint("ghost-", i)); k.name != "bcrypt:cost=5" {
			t.Fatalf("after every client moved to cost 5, ghost-%d draws %s", i, k.name)
		}
	}
}

func TestLearnedClientsBounded(t *testing.T) {
	t.Parallel()
	v, err := New(Options{CacheSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	b4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	for i := range 10 {
		v.Check(fmt.Sprint("c", i), string(b4), "wrong")
	}
	if n, total := len(v.kinds.owner), v.kinds.total; n != 3 || total != 3 {
		t.Errorf("remembers %d clients, weight %d; want 3 and 3", n, total)
	}
}

func TestCapRefusesOrWaits(t *testing.T) {
	t.Parallel()
	v, err := New(Options{MaxSlow: 1})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	v.SetHook(func(Run) {
		once.Do(func() { close(entered); <-release })
	})
	b4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	done := make(chan bool)
	go func() { ok, _ := v.Check("a", string(b4), "pw"); done <- ok }()
	<-entered
	if ok, err := v.Check("b", string(b4), "pw"); ok || !errors.Is(err, ErrBusy) {
		t.Errorf("Check at the cap = %v, %v; want false, ErrBusy", ok, err)
	}
	if err := v.Dummy("ghost", "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Dummy at the cap = %v, want ErrBusy", err)
	}
	// Cheap answers need no slot.
	plain, fast, _ := Generate(nil)
	if ok, err := v.Check("g", fast, plain); !ok || err != nil {
		t.Errorf("generated secret at the cap = %v, %v", ok, err)
	}
	// Verify, the waiting form, gets the slot once it is free.
	waited := make(chan bool)
	go func() { waited <- v.Verify("b", string(b4), "pw") }()
	close(release)
	if !<-done || !<-waited {
		t.Error("checks after the slot came free failed")
	}
}

func TestDummyHashesAreValidAndNeverMatch(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(t)
	for _, hash := range []string{
		"$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 22),
		func() string { h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 5); return string(h) }(),
	} {
		k := v.kinds.describe(hash)
		if k == nil {
			t.Fatalf("describe(%q) = nil", hash)
		}
		if err := CheckFormat(k.dummy); err != nil {
			t.Errorf("dummy of %s: %v", k.name, err)
		}
		for _, p := range []string{"", "pw", "tollgate-dummy"} {
			if compare(k.dummy, p) {
				t.Errorf("dummy of %s matches %q", k.name, p)
			}
		}
	}
}

// Identical checks in flight together share one slow hash: with one slot,
// none of them is refused as busy, and the hash runs once. Different
// secrets still each need their own slot.
func TestIdenticalChecksShareOneHash(t *testing.T) {
	t.Parallel()
	v, err := New(Options{MaxSlow: 1})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	v.SetHook(func(Run) {
		if runs.Add(1) == 1 {
			close(entered)
			<-release
		}
	})
	b4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	const n = 8
	results := make(chan error, n)
	go func() {
		ok, err := v.Check("a", string(b4), "pw")
		if !ok && err == nil {
			err = errors.New("refused the right secret")
		}
		results <- err
	}()
	<-entered
	var started sync.WaitGroup
	for range n - 1 {
		started.Add(1)
		go func() {
			started.Done()
			ok, err := v.Check("a", string(b4), "pw")
			if !ok && err == nil {
				err = errors.New("refused the right secret")
			}
			results <- err
		}()
	}
	started.Wait()
	for range 1000 { // let the followers reach the check: without sharing they would be refused at once
		runtime.Gosched()
	}
	// A different secret for the same client is not the same check.
	if _, err := v.Check("a", string(b4), "other"); !errors.Is(err, ErrBusy) {
		t.Errorf("a different secret at the cap = %v, want ErrBusy", err)
	}
	close(release)
	for range n {
		if err := <-results; err != nil {
			t.Errorf("identical check: %v", err)
		}
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("%d slow hashes ran for %d identical checks, want 1", got, n)
	}
}
