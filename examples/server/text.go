package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// textProblem returns "" if s is fit to keep and compare as typed (a
// username, a password, a client id from a form), else why not, phrased
// to follow the field's name. It is the rule the token endpoint applies to
// its own parameters: a password the endpoint would refuse, or that a
// form would not deliver intact, is refused here first.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if s != "" && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		return "has leading or trailing whitespace"
	}
	return ""
}

// hasSpace reports whether s holds any whitespace.
func hasSpace(s string) bool { return strings.ContainsFunc(s, unicode.IsSpace) }
