package provider

import "github.com/tollgate-oauth/tollgate/internal/jsonappend"

// AppendJSON appends r as the JSON object of a token response (RFC 6749
// §5.1), in the field order of its struct tags. It is the same document
// json.Marshal writes, built without reflection: the token endpoint writes
// one per request, and encoding/json's reflection and buffer were a visible
// share of an ES256 request.
func (r *Response) AppendJSON(b []byte) []byte {
	b = append(b, `{"access_token":`...)
	b = jsonappend.String(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = jsonappend.String(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = jsonappend.Int(b, r.ExpiresIn)
	b = append(b, `,"scope":`...)
	b = jsonappend.String(b, r.Scope)
	b = append(b, `,"created_at":`...)
	b = jsonappend.Int(b, r.CreatedAt)
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = jsonappend.String(b, r.RefreshToken)
	}
	return append(b, '}')
}
