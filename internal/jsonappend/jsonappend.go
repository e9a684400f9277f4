// Package jsonappend writes the few JSON values of a token request's hot
// path (the token response, an access token's claims) straight into a
// byte slice, without encoding/json's reflection and buffers. Its output is
// byte for byte what json.Marshal writes for the same values; each caller
// keeps a fuzz target that checks this against encoding/json.
package jsonappend

import (
	"encoding/json"
	"strconv"
)

// String appends s as a JSON string. Tokens, identifiers and scopes are
// printable ASCII, which needs only the quotes; anything else takes
// encoding/json's path, so its escaping rules (HTML characters, invalid
// UTF-8) stay the only ones.
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Strings appends ss as a JSON array of strings; nil is null, as
// json.Marshal writes a nil slice.
func Strings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// Int appends n in decimal.
func Int(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }
