package tokenrequest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/printable"
)

func decodeForm(body []byte) (map[string][]string, *oautherr.Error) {
	if !utf8.Valid(body) {
		return nil, oautherr.InvalidRequest("the request body is not valid UTF-8")
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oautherr.InvalidRequest("the request body is not valid application/x-www-form-urlencoded")
	}
	return values, nil
}

// decodeJSON reads one JSON object whose values are strings (or, for the
// list parameters, arrays of strings). It walks tokens rather than
// unmarshalling into a map so that a key sent twice is caught instead of
// silently keeping the last value.
func decodeJSON(body []byte) (map[string][]string, *oautherr.Error) {
	bad := func() *oautherr.Error {
		return oautherr.InvalidRequest("the request body is not a JSON object of string parameters")
	}
	if !utf8.Valid(body) {
		return nil, oautherr.InvalidRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad()
	}
	params := make(map[string][]string)
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad()
		}
		name, ok := tok.(string)
		if !ok {
			return nil, bad()
		}
		if seen[name] {
			return nil, oautherr.InvalidRequest("parameter %s is repeated", oautherr.Quote(name))
		}
		seen[name] = true
		values, perr := jsonValue(dec, name)
		if perr != nil {
			return nil, perr
		}
		if len(values) > 0 {
			params[name] = values
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, bad()
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, oautherr.InvalidRequest("the request body has data after the JSON object")
	}
	return params, nil
}

func jsonValue(dec *json.Decoder, name string) ([]string, *oautherr.Error) {
	notString := func() *oautherr.Error {
		return oautherr.InvalidRequest("parameter %s must be a string", oautherr.Quote(name))
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, oautherr.InvalidRequest("the request body is not valid JSON")
	}
	switch v := tok.(type) {
	case string:
		return []string{v}, nil
	case nil:
		return nil, nil // null: omitted
	case json.Delim:
		if v != '[' || (name != "audience" && name != paramResource) {
			return nil, notString()
		}
		var list []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, oautherr.InvalidRequest("the request body is not valid JSON")
			}
			s, ok := tok.(string)
			if !ok {
				return nil, oautherr.InvalidRequest("parameter %s must be an array of strings", oautherr.Quote(name))
			}
			list = append(list, s)
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return nil, oautherr.InvalidRequest("the request body is not valid JSON")
		}
		if name == "audience" {
			// One "audience" value, space separated, as the form encoding has it.
			for _, s := range list {
				if s == "" || printable.HasSpace(s) {
					return nil, oautherr.InvalidRequest("parameter 'audience' holds an empty value or a space")
				}
			}
			return []string{strings.Join(list, " ")}, nil
		}
		return list, nil
	}
	return nil, notString()
}

// parseBasic reads "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749
// §2.3.1 and RFC 7617).
func parseBasic(header string) (id, secret string, e *oautherr.Error) {
	scheme, creds, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", oautherr.InvalidClient(true, "the Authorization header must use the Basic scheme")
	}
	if p := printable.Problem(creds); p != "" || creds == "" || strings.Contains(creds, " ") {
		return "", "", oautherr.InvalidRequest("the Authorization header is not valid Basic credentials")
	}
	raw, err := base64.StdEncoding.DecodeString(creds)
	if err != nil {
		return "", "", oautherr.InvalidRequest("the Authorization header is not valid Basic credentials: bad base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", oautherr.InvalidRequest("the Authorization header is not valid Basic credentials: no ':' separator")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", oautherr.InvalidRequest("client_id in the Authorization header is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", oautherr.InvalidRequest("client_secret in the Authorization header is not form-urlencoded")
	}
	if p := printable.Problem(id); p != "" {
		return "", "", oautherr.InvalidRequest("client_id in the Authorization header %s", p)
	}
	if p := printable.Problem(secret); p != "" {
		return "", "", oautherr.InvalidRequest("client_secret in the Authorization header %s", p)
	}
	if id == "" {
		return "", "", oautherr.InvalidClient(true, "the Authorization header has an empty client_id")
	}
	return id, secret, nil
}
