package provider

import (
	"encoding/json"
	"strconv"
)

// AppendJSON appends r as the JSON object of a token response (RFC 6749
// §5.1), in the field order of its struct tags. It is the same document
// json.Marshal writes, built without reflection: the token endpoint writes
// one per request, and encoding/json's reflection and buffer were a visible
// share of an ES256 request.
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"access_token":`...)
	b = appendString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	b = append(b, `,"scope":`...)
	b = appendString(b, r.Scope)
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, r.CreatedAt, 10)
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = appendString(b, r.RefreshToken)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Tokens and scopes are printable
// ASCII, which needs only the quotes; anything else takes encoding/json's
// path, so its escaping rules (HTML characters, invalid UTF-8) stay the
// only ones.
func appendString(b []byte, s string) []byte {
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
