package tokenrequest

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/printable"
	"github.com/tollgate-oauth/tollgate/internal/scope"
)

// fuzzMaxBody is small so that the fuzzer reaches the size limit.
const fuzzMaxBody = 512

// parseFuzz builds the request the fuzzer describes. authorization holds
// one Authorization header per line ("" for none).
func parseFuzz(contentType string, body []byte, authorization, query string) (*Request, *oautherr.Error) {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", bytes.NewReader(body))
	r.URL.RawQuery = query
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		for a := range strings.SplitSeq(authorization, "\n") {
			r.Header.Add("Authorization", a)
		}
	}
	return Parse(httptest.NewRecorder(), r, fuzzMaxBody)
}

var knownCodes = map[string]bool{
	oautherr.CodeInvalidRequest: true, oautherr.CodeInvalidClient: true, oautherr.CodeInvalidScope: true,
	oautherr.CodeInvalidTarget: true,
}

func FuzzParse(f *testing.F) {
	b64 := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []struct {
		ct, body, auth, query string
	}{
		{ctForm, "grant_type=client_credentials", b64("integration:a-long-secret-value"), ""},
		{ctForm, "grant_type=client_credentials&client_id=integration&client_secret=a-long-secret-value&scope=market%3Aall", "", ""},
		{ctForm, "grant_type=client_credentials&client_id=sales-channel&scope=market%3Aid%3Ax&audience=https%3A%2F%2Fa+urn%3Ab", "", "trace=1"},
		{ctForm, "grant_type=client_credentials&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb%23f", "", ""},
		{ctForm, "grant_type=a&grant_type=a", "", ""},
		{ctForm, "grant_type=a;b=c&x=%zz", "", ""},
		{ctForm, "grant_type=client_credentials%0A&client_id=%C2%A0c", "", ""},
		{ctForm + "; charset=utf-8", "grant_type=client_credentials&scope=a++b", b64("my+id%3A:p%40ss"), ""},
		{ctForm, "grant_type=client_credentials&client_secret=x", b64("integration:y"), ""},
		{ctForm, "grant_type=client_credentials", b64("c:s") + "\n" + b64("c:s"), ""},
		{ctForm, "grant_type=client_credentials", "Bearer abc", "client_id=c"},
		{ctForm, "grant_type=client_credentials", b64("c:s\n"), ""},
		{ctForm, "grant_type=client_credentials", b64(":s"), "client_secret=x&y=%zz"},
		{ctJSON, `{"grant_type":"client_credentials","client_id":"sales-channel","scope":"market:id:x"}`, "", ""},
		{ctJSON, `{"grant_type":"client_credentials","audience":["https://a","https://b"],"resource":["https://c"]}`, "", ""},
		{ctJSON, `{"grant_type":"client_credentials","client_id":1,"x":{"y":[true]}}`, "", ""},
		{ctJSON, `{"grant_type":"a","grant_type":"a"} trailing`, "", ""},
		{ctJSON, `{"grant_type":"a","\"\\\n\u00e9":null,"scope":"b\u2003"}`, "", ""},
		{ctJSON, "[\"grant_type\",\xff]", "", ""},
		{"application/json; charset=latin1", `{}`, "", ""},
		{"multipart/form-data; boundary=x", "--x--", "", ""},
		{"", "grant_type=client_credentials", "", ""},
		{ctForm, "grant_type=a&x=" + strings.Repeat("y", fuzzMaxBody), "", ""},
	} {
		f.Add(seed.ct, []byte(seed.body), seed.auth, seed.query)
	}

	f.Fuzz(func(t *testing.T, contentType string, body []byte, authorization, query string) {
		req, perr := parseFuzz(contentType, body, authorization, query)
		req2, perr2 := parseFuzz(contentType, body, authorization, query)
		if !reflect.DeepEqual(req, req2) || !reflect.DeepEqual(perr, perr2) {
			t.Fatalf("two parses of one request differ:\n%+v %v\n%+v %v", req, perr, req2, perr2)
		}

		if perr != nil {
			if req != nil {
				t.Fatalf("Parse returned a request with error %v", perr)
			}
			if perr.Status < 400 || perr.Status > 499 {
				t.Fatalf("error status %d, want 4xx: %v", perr.Status, perr)
			}
			if !knownCodes[perr.Code] {
				t.Fatalf("error code %q is not one Parse may answer", perr.Code)
			}
			if perr.Description == "" {
				t.Fatalf("error %s has no description", perr.Code)
			}
			if perr.Code == oautherr.CodeInvalidClient && perr.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("invalid_client from Parse comes from the Authorization header and needs WWW-Authenticate")
			}
			return
		}

		if req.GrantType == "" {
			t.Fatalf("success without grant_type")
		}
		clean := func(what, v string) {
			t.Helper()
			if p := printable.Problem(v); p != "" {
				t.Fatalf("%s %q %s", what, v, p)
			}
		}
		clean("GrantType", req.GrantType)
		clean("ClientID", req.ClientID)
		clean("ClientSecret", req.ClientSecret)
		for _, s := range req.Scopes {
			if !scope.ValidToken(s) {
				t.Fatalf("scope %q is not a scope token", s)
			}
		}
		seen := map[string]bool{}
		for _, a := range req.Audiences {
			clean("audience", a)
			if a == "" || printable.HasSpace(a) {
				t.Fatalf("audience %q is empty or holds whitespace", a)
			}
			if seen[a] {
				t.Fatalf("audience %q is listed twice", a)
			}
			seen[a] = true
		}
		for k, v := range req.Params {
			if v == "" {
				t.Fatalf("parameter %q kept with an empty value", k)
			}
			clean("parameter "+k, v)
			switch k {
			case "client_secret", "client_id", "grant_type", "scope", "audience", "resource":
				t.Fatalf("Params holds %q", k)
			}
		}
		if req.ClientSecret != "" && req.ClientID == "" {
			t.Fatalf("a secret without a client id")
		}
		if req.Basic != (authorization != "") {
			t.Fatalf("Basic = %v with Authorization %q", req.Basic, authorization)
		}
		for _, k := range queryKeys(query) {
			if k == "client_id" || k == "client_secret" {
				t.Fatalf("credentials in the query %q were accepted", query)
			}
		}
		form := req.Form()
		if form.Has("client_secret") || form.Get("grant_type") != req.GrantType || form.Get("client_id") != req.ClientID {
			t.Fatalf("Form = %v", form)
		}
	})
}

// queryKeys returns the names in a raw query however it is separated or
// malformed, as a lenient server or proxy log would read them.
func queryKeys(raw string) []string {
	var keys []string
	for pair := range strings.FieldsFuncSeq(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		k, _, _ := strings.Cut(pair, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			keys = append(keys, u)
		}
	}
	return keys
}
