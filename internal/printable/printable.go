// Package printable finds the stray characters that the token endpoint
// refuses in any value: leading or trailing whitespace and control
// characters. Clients that send them (a newline pasted with a secret, a
// padded client id) get an error that names the parameter instead of a
// confusing "unknown client".
package printable

import (
	"unicode"
	"unicode/utf8"
)

// Problem returns "" if s is clean, else why it is not, phrased to follow a
// parameter name: "has leading or trailing whitespace".
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	if s == "" {
		return ""
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "has leading or trailing whitespace"
	}
	return ""
}

// HasSpace reports whether s holds any whitespace.
func HasSpace(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) {
			return true
		}
	}
	return false
}
