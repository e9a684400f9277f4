package memory

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"time"

	"github.com/tollgate-oauth/tollgate/storage"
)

// feed is the revocation feed of a memory store: one entry per revoked
// jti or grant, and the entries in sequence order. Its caller holds the
// tokens lock.
type feed struct {
	epoch   string
	last    uint64
	entries map[feedKey]*feedEntry
	// order lists entries by the sequence number they had when appended.
	// An entry revoked again with a later expiry is appended anew; its old
	// slot is stale (its seq no longer matches) and skipped.
	order []slot
}

type feedKey struct {
	grant bool
	id    string
}

func jtiKey(jti string) feedKey  { return feedKey{id: jti} }
func grantKey(id string) feedKey { return feedKey{grant: true, id: id} }

type feedEntry struct {
	seq uint64
	exp time.Time
}

type slot struct {
	seq uint64
	key feedKey
}

func newFeed() feed {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	return feed{epoch: hex.EncodeToString(b[:]), entries: map[feedKey]*feedEntry{}}
}

func (f *feed) has(k feedKey) bool {
	_, ok := f.entries[k]
	return ok
}

// revoke adds the entry, or moves it to the end of the feed if exp is
// later than what it had.
func (f *feed) revoke(k feedKey, exp time.Time) {
	e, ok := f.entries[k]
	if ok && !exp.After(e.exp) {
		return
	}
	if !ok {
		e = &feedEntry{}
		f.entries[k] = e
	}
	f.last++
	e.seq, e.exp = f.last, exp
	f.order = append(f.order, slot{seq: f.last, key: k})
}

func (f *feed) read(after uint64, now time.Time, limit int) *storage.RevocationPage {
	page := &storage.RevocationPage{Epoch: f.epoch, Last: f.last}
	i := sort.Search(len(f.order), func(i int) bool { return f.order[i].seq > after })
	for ; i < len(f.order) && len(page.Entries) < limit; i++ {
		s := f.order[i]
		e, ok := f.entries[s.key]
		if !ok || e.seq != s.seq || e.exp.Before(now) {
			continue
		}
		r := storage.Revocation{Seq: s.seq, ExpiresAt: e.exp}
		if s.key.grant {
			r.GrantID = s.key.id
		} else {
			r.JTI = s.key.id
		}
		page.Entries = append(page.Entries, r)
	}
	return page
}

// deleteExpired removes up to limit expired entries, then drops the
// slots that no longer point at an entry.
func (f *feed) deleteExpired(now time.Time, limit int) int {
	n := 0
	for k, e := range f.entries {
		if n >= limit {
			break
		}
		if e.exp.Before(now) {
			delete(f.entries, k)
			n++
		}
	}
	if n > 0 || len(f.order) > 2*len(f.entries) {
		kept := f.order[:0]
		for _, s := range f.order {
			if e, ok := f.entries[s.key]; ok && e.seq == s.seq {
				kept = append(kept, s)
			}
		}
		clear(f.order[len(kept):])
		f.order = kept
	}
	return n
}
