package middleware

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// revocationGrace keeps an entry past its exp for the longest Leeway a
// Middleware accepts: a token is accepted until its exp plus Leeway, so
// its revocation must last as long.
const revocationGrace = 5 * time.Minute

// revokedSet is one immutable generation of the revoked tokens. Requests
// read it through an atomic pointer, without a lock; a poll that changes
// anything publishes a new generation (maps are copied on write, never
// changed once published).
type revokedSet struct {
	entries
	// asOf is when the last poll that caught up with the feed started:
	// every revocation before it is in the set. Zero: never caught up.
	asOf time.Time
	// gapUntil: entries were dropped to respect MaxEntries, the latest of
	// them expiring at gapUntil (Unix seconds); until then, plus the grace,
	// the set may miss revocations. Zero: nothing dropped.
	gapUntil int64
}

// has reports whether c's jti or grant_id is revoked.
func (s *revokedSet) has(c *Claims) bool {
	if len(s.jti) != 0 && c.ID != "" {
		if _, ok := s.jti[c.ID]; ok {
			return true
		}
	}
	if len(s.grant) != 0 && c.GrantID != "" {
		if _, ok := s.grant[c.GrantID]; ok {
			return true
		}
	}
	return false
}

// fresh reports whether the set can vouch for now: it caught up with the
// feed at most maxAge ago and misses no entry.
func (s *revokedSet) fresh(now time.Time, maxAge time.Duration) bool {
	return !s.asOf.IsZero() && now.Sub(s.asOf) <= maxAge &&
		(s.gapUntil == 0 || now.Unix() > s.gapUntil+int64(revocationGrace/time.Second))
}

// entries maps revoked ids to the exp of their entry (Unix seconds).
type entries struct {
	jti, grant map[string]int64
}

func newEntries() entries {
	return entries{jti: map[string]int64{}, grant: map[string]int64{}}
}

func (e entries) clone() entries {
	return entries{jti: maps.Clone(e.jti), grant: maps.Clone(e.grant)}
}

func (e entries) len() int { return len(e.jti) + len(e.grant) }

// add records a page's entries, keeping the later exp of an id seen twice,
// and skipping those already past exp plus the grace at now.
func (e entries) add(page []feedEntry, now int64) {
	grace := int64(revocationGrace / time.Second)
	for _, f := range page {
		if f.Exp+grace < now {
			continue
		}
		if f.JTI != "" && e.jti[f.JTI] < f.Exp {
			e.jti[f.JTI] = f.Exp
		}
		if f.GrantID != "" && e.grant[f.GrantID] < f.Exp {
			e.grant[f.GrantID] = f.Exp
		}
	}
}

// purge drops entries past exp plus the grace at now.
func (e entries) purge(now int64) {
	grace := int64(revocationGrace / time.Second)
	for _, m := range []map[string]int64{e.jti, e.grant} {
		for id, exp := range m {
			if exp+grace < now {
				delete(m, id)
			}
		}
	}
}

// minExp returns the earliest exp in e, or 0 when e is empty.
func (e entries) minExp() int64 {
	var least int64
	for _, m := range []map[string]int64{e.jti, e.grant} {
		for _, exp := range m {
			if least == 0 || exp < least {
				least = exp
			}
		}
	}
	return least
}

// trim drops the entries that expire first until at most limit remain, and
// returns the latest exp dropped (0 if none): the revocations most likely
// to matter are those of tokens that live longest.
func (e entries) trim(limit int) int64 {
	over := e.len() - limit
	if over <= 0 {
		return 0
	}
	type item struct {
		grant bool
		id    string
		exp   int64
	}
	all := make([]item, 0, e.len())
	for id, exp := range e.jti {
		all = append(all, item{false, id, exp})
	}
	for id, exp := range e.grant {
		all = append(all, item{true, id, exp})
	}
	slices.SortFunc(all, func(a, b item) int { return cmp.Compare(a.exp, b.exp) })
	var latest int64
	for _, it := range all[:over] {
		if it.grant {
			delete(e.grant, it.id)
		} else {
			delete(e.jti, it.id)
		}
		latest = max(latest, it.exp)
	}
	return latest
}
