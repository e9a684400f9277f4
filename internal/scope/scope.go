// Package scope parses RFC 6749 scope strings and matches scopes against a
// client's allowed patterns. A pattern is a scope whose ":"-separated
// segments may be "*", which stands for exactly one non-empty segment:
// "market:id:*" covers "market:id:xYZkjABcde" but not "market:id" nor
// "market:id:a:b". The token server and the middleware share this matching so
// a route and a client mean the same thing by a pattern.
package scope

import (
	"errors"
	"strings"
)

// Separator splits a scope into segments for wildcard matching.
const Separator = ':'

// Wildcard is the segment that matches any one segment.
const Wildcard = "*"

// ErrSyntax reports a scope string that is not RFC 6749 §3.3 syntax.
var ErrSyntax = errors.New("scope: not a list of scope tokens separated by single spaces")

// ValidToken reports whether s is one RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Parse splits a scope parameter into its tokens. It refuses empty tokens
// (double, leading or trailing spaces) and characters outside the RFC
// grammar instead of normalising them: a client that sends them has a bug
// worth seeing. Duplicate tokens are dropped, order is kept.
func Parse(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]string, 0, strings.Count(s, " ")+1)
	for tok := range strings.SplitSeq(s, " ") {
		if !ValidToken(tok) {
			return nil, ErrSyntax
		}
		if !contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// IsPattern reports whether s holds a wildcard segment.
func IsPattern(s string) bool {
	for seg := range strings.SplitSeq(s, string(Separator)) {
		if seg == Wildcard {
			return true
		}
	}
	return false
}

// ValidPattern reports whether s is a valid scope token whose "*"s, if any,
// are whole segments and whose segments are not empty.
func ValidPattern(s string) bool {
	if !ValidToken(s) {
		return false
	}
	for seg := range strings.SplitSeq(s, string(Separator)) {
		if seg == "" || (seg != Wildcard && strings.Contains(seg, Wildcard)) {
			return false
		}
	}
	return true
}

// Match reports whether pattern covers scope. Both are compared segment by
// segment; a "*" pattern segment matches any one non-empty segment. A scope
// that itself holds "*" only matches a pattern with the same literal "*".
// It does not allocate: the middleware calls it on every request.
func Match(pattern, scope string) bool {
	if pattern == scope {
		return true
	}
	for {
		pi := strings.IndexByte(pattern, Separator)
		si := strings.IndexByte(scope, Separator)
		if (pi < 0) != (si < 0) {
			return false
		}
		pseg, sseg := pattern, scope
		if pi >= 0 {
			pseg, sseg = pattern[:pi], scope[:si]
		}
		if sseg == "" || (pseg != Wildcard && pseg != sseg) {
			return false
		}
		if pi < 0 {
			return true
		}
		pattern, scope = pattern[pi+1:], scope[si+1:]
	}
}

// Allowed reports whether any of patterns covers scope.
func Allowed(patterns []string, scope string) bool {
	for _, p := range patterns {
		if Match(p, scope) {
			return true
		}
	}
	return false
}

// Join is the inverse of Parse.
func Join(scopes []string) string { return strings.Join(scopes, " ") }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
