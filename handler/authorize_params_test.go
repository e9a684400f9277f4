package handler_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/handler"
)

// Issue 9 §9: fosite reads an authorization request's query and body
// together (and a multipart body, whatever the method), so the strict
// checks must cover all of it: a parameter in the query and again in the
// body is repeated, a control character hidden in the half not checked is
// still one, and a multipart body is refused outright.

// apRequest is an authorization request of a signed-in user: query in the
// URL, body (if any) with its content type.
func (e *afEnv) apRequest(t *testing.T, method, query, contentType string, body []byte) afHTTP {
	t.Helper()
	target := e.ts.URL + handler.AuthorizePath
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.AddCookie(&http.Cookie{Name: afCookie, Value: afUser})
	return afDo(t, req)
}

// apMultipart encodes v as a multipart/form-data body.
func apMultipart(t *testing.T, v url.Values) (contentType string, body []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range v {
		for _, s := range vs {
			if err := mw.WriteField(k, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

func TestAuthorizeQueryAndBodyCheckedTogether(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	env := afServer(t, nil)
	valid := func() url.Values { return afAuthorizeParams(afWebID, afWebRedirect, afVerifier(t)) }
	only := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	evil := "https://evil.example.com/callback"
	tests := []struct {
		name, method, query, contentType string
		body                             func() []byte
	}{
		{"POST: redirect_uri in the body and the query", http.MethodPost, only("redirect_uri", evil), form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: the same redirect_uri in both", http.MethodPost, only("redirect_uri", afWebRedirect), form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: client_id in both", http.MethodPost, only("client_id", afOtherWebID), form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: control character in a query parameter", http.MethodPost, only("nonce", "a\x00b"), form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: trailing space in a query parameter", http.MethodPost, only("prompt", "login "), form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: malformed query", http.MethodPost, "state=%zz", form,
			func() []byte { return []byte(valid().Encode()) }},
		{"POST: multipart body", http.MethodPost, "", "",
			nil},
		{"GET: multipart body beside a valid query", http.MethodGet, "", "",
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			query, ct := tt.query, tt.contentType
			var body []byte
			switch {
			case tt.body != nil:
				body = tt.body()
			case tt.method == http.MethodPost:
				ct, body = apMultipart(t, valid())
			default: // GET: a valid query, and the body adds a second redirect_uri
				query = valid().Encode()
				ct, body = apMultipart(t, url.Values{"redirect_uri": {evil}})
			}
			res := env.apRequest(t, tt.method, query, ct, body)
			afWantShown(t, tt.name, res, http.StatusBadRequest, "invalid_request")
		})
	}
	if n := env.logins.Load(); n != 0 {
		t.Errorf("the login hook ran %d times for requests that must be refused", n)
	}

	// Query and body that do not overlap are one request, as fosite reads
	// it: this one succeeds.
	body := valid()
	body.Del("client_id")
	res := env.apRequest(t, http.MethodPost, only("client_id", afWebID), form, []byte(body.Encode()))
	afRedirectTo(t, "POST with client_id in the query, the rest in the body", res, afWebRedirect)
	// So does a multipart content type spelt another way: still refused.
	ct, mp := apMultipart(t, valid())
	res = env.apRequest(t, http.MethodPost, "", strings.ToUpper(ct[:9])+ct[9:], mp)
	afWantShown(t, "MULTIPART/form-data", res, http.StatusBadRequest, "invalid_request")
}
