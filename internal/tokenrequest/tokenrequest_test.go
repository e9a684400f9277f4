package tokenrequest

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// parse runs Parse on a POST with the given content type, body, query and
// Authorization headers (one header per element).
func parse(ct, query, body string, maxBody int64, authorization ...string) (*Request, *oautherr.Error) {
	target := "/oauth/token"
	if query != "" {
		target += "?" + query
	}
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	return Parse(httptest.NewRecorder(), r, maxBody)
}

func basic(raw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw)) }

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		ct, query     string
		body          string
		authorization []string
		want          Request
	}{
		{
			name: "form, credentials in the body",
			ct:   ctForm,
			body: "grant_type=client_credentials&scope=market%3Aall+market%3Aid%3Ax&audience=https%3A%2F%2Fa+https%3A%2F%2Fb" +
				"&client_id=integration&client_secret=s3cret&code=xyz&empty=",
			want: Request{GrantType: "client_credentials", Scopes: []string{"market:all", "market:id:x"},
				Audiences: []string{"https://a", "https://b"}, ClientID: "integration", ClientSecret: "s3cret",
				Params: map[string]string{"code": "xyz"}},
		},
		{
			name: "json, same names",
			ct:   ctJSON,
			body: `{"grant_type":"client_credentials","scope":"market:all market:id:x","audience":"https://a https://b",` +
				`"client_id":"integration","client_secret":"s3cret","code":"xyz","empty":"","nothing":null}` + "\n",
			want: Request{GrantType: "client_credentials", Scopes: []string{"market:all", "market:id:x"},
				Audiences: []string{"https://a", "https://b"}, ClientID: "integration", ClientSecret: "s3cret",
				Params: map[string]string{"code": "xyz"}},
		},
		{
			name: "json with charset and upper-case type",
			ct:   "Application/JSON; charset=UTF-8",
			body: `{"grant_type":"client_credentials","client_id":"sales-channel"}`,
			want: Request{GrantType: "client_credentials", ClientID: "sales-channel", Params: map[string]string{}},
		},
		{
			name: "json audience and resource arrays",
			ct:   ctJSON,
			body: `{"grant_type":"client_credentials","audience":["https://a","https://b"],"resource":["https://c","https://a"]}`,
			want: Request{GrantType: "client_credentials", Audiences: []string{"https://a", "https://b", "https://c"},
				Params: map[string]string{}},
		},
		{
			name: "json resource as a string",
			ct:   ctJSON,
			body: `{"grant_type":"client_credentials","resource":"https://c/x?y=1"}`,
			want: Request{GrantType: "client_credentials", Audiences: []string{"https://c/x?y=1"}, Params: map[string]string{}},
		},
		{
			name: "form audience then repeated resource, duplicates merged",
			ct:   ctForm,
			body: "grant_type=client_credentials&audience=urn%3Aa+https%3A%2F%2Fb&resource=https%3A%2F%2Fb&resource=https%3A%2F%2Fc&resource=",
			want: Request{GrantType: "client_credentials", Audiences: []string{"urn:a", "https://b", "https://c"},
				Params: map[string]string{}},
		},
		{
			name: "scope duplicates dropped, order kept",
			ct:   ctForm,
			body: "grant_type=client_credentials&scope=b+a+b",
			want: Request{GrantType: "client_credentials", Scopes: []string{"b", "a"}, Params: map[string]string{}},
		},
		{
			name:          "basic, form-urlencoded id and secret",
			ct:            ctForm,
			body:          "grant_type=client_credentials",
			authorization: []string{basic(url.QueryEscape("my client:1") + ":" + url.QueryEscape("p@ss:w%rd+é"))},
			want: Request{GrantType: "client_credentials", ClientID: "my client:1", ClientSecret: "p@ss:w%rd+é", Basic: true,
				Params: map[string]string{}},
		},
		{
			name:          "basic, secret may hold a colon unencoded",
			ct:            ctForm,
			body:          "grant_type=client_credentials",
			authorization: []string{basic("integration:a:b")},
			want: Request{GrantType: "client_credentials", ClientID: "integration", ClientSecret: "a:b", Basic: true,
				Params: map[string]string{}},
		},
		{
			name:          "basic scheme is case-insensitive",
			ct:            ctForm,
			body:          "grant_type=client_credentials",
			authorization: []string{"bAsIc " + base64.StdEncoding.EncodeToString([]byte("integration:x"))},
			want: Request{GrantType: "client_credentials", ClientID: "integration", ClientSecret: "x", Basic: true,
				Params: map[string]string{}},
		},
		{
			name:          "basic with empty secret",
			ct:            ctForm,
			body:          "grant_type=client_credentials",
			authorization: []string{basic("sales-channel:")},
			want:          Request{GrantType: "client_credentials", ClientID: "sales-channel", Basic: true, Params: map[string]string{}},
		},
		{
			name:          "basic with the same client_id in the body",
			ct:            ctForm,
			body:          "grant_type=client_credentials&client_id=integration",
			authorization: []string{basic("integration:x")},
			want: Request{GrantType: "client_credentials", ClientID: "integration", ClientSecret: "x", Basic: true,
				Params: map[string]string{}},
		},
		{
			name: "public client, no secret",
			ct:   ctForm,
			body: "grant_type=client_credentials&client_id=sales-channel&scope=market%3Aid%3Ax",
			want: Request{GrantType: "client_credentials", ClientID: "sales-channel", Scopes: []string{"market:id:x"},
				Params: map[string]string{}},
		},
		{
			name: "no credentials",
			ct:   ctForm,
			body: "grant_type=urn%3Aexample%3Acustom&subject=abc&device=%C3%A9t%C3%A9",
			want: Request{GrantType: "urn:example:custom", Params: map[string]string{"subject": "abc", "device": "été"}},
		},
		{
			name:  "unrelated query parameters are ignored",
			ct:    ctForm,
			query: "trace=1",
			body:  "grant_type=client_credentials",
			want:  Request{GrantType: "client_credentials", Params: map[string]string{}},
		},
		{
			name: "inner spaces in other parameters are kept",
			ct:   ctForm,
			body: "grant_type=client_credentials&note=two+words",
			want: Request{GrantType: "client_credentials", Params: map[string]string{"note": "two words"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(tc.ct, tc.query, tc.body, 0, tc.authorization...)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Parse =\n %+v\nwant\n %+v", *got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const secret = "a-long-secret-value"
	for _, tc := range []struct {
		name          string
		ct, query     string
		body          string
		maxBody       int64
		authorization []string
		status        int
		code          string
		desc          string
	}{
		{name: "no content type", body: "grant_type=client_credentials", status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "text/plain", ct: "text/plain", body: "grant_type=client_credentials", status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "multipart", ct: "multipart/form-data; boundary=x", body: "--x--", status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "bad media type", ct: "application/json;;", body: "{}", status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "latin1", ct: ctForm + "; charset=latin1", body: "grant_type=x", status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "grant_type missing", ct: ctForm, body: "scope=a", status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type empty", ct: ctJSON, body: `{"grant_type":""}`, status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "form repeated", ct: ctForm, body: "grant_type=a&grant_type=a", status: 400, code: "invalid_request", desc: "'grant_type' is repeated"},
		{name: "form repeated scope", ct: ctForm, body: "grant_type=a&scope=x&scope=y", status: 400, code: "invalid_request", desc: "'scope' is repeated"},
		{name: "form repeated secret", ct: ctForm, body: "grant_type=a&client_secret=x&client_secret=y", status: 400, code: "invalid_request", desc: "'client_secret' is repeated"},
		{name: "form bad escape", ct: ctForm, body: "grant_type=a%zz", status: 400, code: "invalid_request", desc: "form"},
		{name: "form semicolon", ct: ctForm, body: "grant_type=a;b=c", status: 400, code: "invalid_request", desc: "form"},
		{name: "form invalid utf-8", ct: ctForm, body: "grant_type=a&x=%FF", status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "json invalid utf-8", ct: ctJSON, body: "{\"grant_type\":\"a\xff\"}", status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "json malformed", ct: ctJSON, body: `{"grant_type":"a"`, status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json array", ct: ctJSON, body: `[]`, status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json object value", ct: ctJSON, body: `{"grant_type":{}}`, status: 400, code: "invalid_request", desc: "'grant_type' must be a string"},
		{name: "json number", ct: ctJSON, body: `{"grant_type":"a","client_id":1}`, status: 400, code: "invalid_request", desc: "'client_id' must be a string"},
		{name: "json bool", ct: ctJSON, body: `{"grant_type":"a","x":false}`, status: 400, code: "invalid_request", desc: "'x' must be a string"},
		{name: "json array for scope", ct: ctJSON, body: `{"grant_type":"a","scope":["x"]}`, status: 400, code: "invalid_request", desc: "'scope' must be a string"},
		{name: "json array of numbers", ct: ctJSON, body: `{"grant_type":"a","resource":[1]}`, status: 400, code: "invalid_request", desc: "array of strings"},
		{name: "json trailing data", ct: ctJSON, body: `{"grant_type":"a"}x`, status: 400, code: "invalid_request", desc: "after the JSON object"},
		{name: "json second object", ct: ctJSON, body: `{"grant_type":"a"} {}`, status: 400, code: "invalid_request", desc: "after the JSON object"},
		{name: "json duplicate key", ct: ctJSON, body: `{"grant_type":"a","grant_type":"a"}`, status: 400, code: "invalid_request", desc: "'grant_type' is repeated"},
		{name: "json duplicate null key", ct: ctJSON, body: `{"grant_type":"a","scope":null,"scope":"x"}`, status: 400, code: "invalid_request", desc: "'scope' is repeated"},
		{name: "json audience item with a space", ct: ctJSON, body: `{"grant_type":"a","audience":["x y"]}`, status: 400, code: "invalid_request", desc: "audience"},
		{name: "json audience empty item", ct: ctJSON, body: `{"grant_type":"a","audience":["x",""]}`, status: 400, code: "invalid_request", desc: "audience"},
		{name: "value with trailing LF", ct: ctForm, body: "grant_type=a%0A", status: 400, code: "invalid_request", desc: "'grant_type' contains a control character"},
		{name: "secret with trailing space", ct: ctJSON, body: `{"grant_type":"a","client_id":"c","client_secret":"s "}`, status: 400, code: "invalid_request", desc: "'client_secret' has leading or trailing whitespace"},
		{name: "client_id with NBSP", ct: ctForm, body: "grant_type=a&client_id=%C2%A0c", status: 400, code: "invalid_request", desc: "'client_id' has leading or trailing whitespace"},
		{name: "scope with U+2003", ct: ctForm, body: "grant_type=a&scope=x%E2%80%83", status: 400, code: "invalid_request", desc: "'scope'"},
		{name: "resource with NUL", ct: ctJSON, body: `{"grant_type":"a","resource":["https://a\u0000"]}`, status: 400, code: "invalid_request", desc: "'resource'"},
		{name: "scope double space", ct: ctForm, body: "grant_type=a&scope=x++y", status: 400, code: "invalid_scope", desc: "scope"},
		{name: "scope non-ascii", ct: ctForm, body: "grant_type=a&scope=%C3%A9", status: 400, code: "invalid_scope", desc: "scope"},
		{name: "audience double space", ct: ctForm, body: "grant_type=a&audience=x++y", status: 400, code: "invalid_request", desc: "audience"},
		{name: "resource relative", ct: ctForm, body: "grant_type=a&resource=%2Fx", status: 400, code: "invalid_target", desc: "resource"},
		{name: "resource with fragment", ct: ctForm, body: "grant_type=a&resource=https%3A%2F%2Fa%23f", status: 400, code: "invalid_target", desc: "resource"},
		{name: "resource with inner NBSP", ct: ctJSON, body: `{"grant_type":"a","resource":"https://a/b\u00a0c"}`, status: 400, code: "invalid_target", desc: "resource"},
		{name: "secret without client_id", ct: ctForm, body: "grant_type=a&client_secret=" + secret, status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic and body secret", ct: ctForm, body: "grant_type=a&client_secret=" + secret, authorization: []string{basic("c:" + secret)},
			status: 400, code: "invalid_request", desc: "both"},
		{name: "basic and other body client_id", ct: ctForm, body: "grant_type=a&client_id=d", authorization: []string{basic("c:" + secret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "two authorization headers", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c:x"), basic("c:x")},
			status: 400, code: "invalid_request", desc: "repeated"},
		{name: "bearer", ct: ctForm, body: "grant_type=a", authorization: []string{"Bearer " + secret}, status: 401, code: "invalid_client", desc: "Basic"},
		{name: "empty authorization", ct: ctForm, body: "grant_type=a", authorization: []string{""}, status: 401, code: "invalid_client", desc: "Basic"},
		{name: "basic without credentials", ct: ctForm, body: "grant_type=a", authorization: []string{"Basic"}, status: 400, code: "invalid_request", desc: "Basic"},
		{name: "basic bad base64", ct: ctForm, body: "grant_type=a", authorization: []string{"Basic %%%"}, status: 400, code: "invalid_request", desc: "base64"},
		{name: "basic no colon", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c" + secret)}, status: 400, code: "invalid_request", desc: "':'"},
		{name: "basic empty id", ct: ctForm, body: "grant_type=a", authorization: []string{basic(":" + secret)}, status: 401, code: "invalid_client", desc: "client_id"},
		{name: "basic id bad escape", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c%z:" + secret)}, status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic secret bad escape", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c:" + secret + "%")}, status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret LF", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c:" + secret + "\n")}, status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret encoded LF", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c:" + secret + "%0A")}, status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret plus", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c:" + secret + "+")}, status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic id LF", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c\n:" + secret)}, status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic id encoded NBSP", ct: ctForm, body: "grant_type=a", authorization: []string{basic("c%C2%A0:" + secret)}, status: 400, code: "invalid_request", desc: "client_id"},
		{name: "query credentials", ct: ctForm, query: "client_id=c&client_secret=" + secret, body: "grant_type=a", status: 400, code: "invalid_request", desc: "URL"},
		{name: "query escaped name", ct: ctForm, query: "client%5Fid=c", body: "grant_type=a", status: 400, code: "invalid_request", desc: "URL"},
		{name: "query credentials beside a bad escape", ct: ctForm, query: "client_secret=" + secret + "&x=%zz", body: "grant_type=a",
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "query credentials after a semicolon", ct: ctForm, query: "x=1;client_secret=" + secret, body: "grant_type=a",
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "resource with empty fragment", ct: ctForm, body: "grant_type=a&resource=https%3A%2F%2Fa%2Fx%23", status: 400, code: "invalid_target", desc: "resource"},
		{name: "audience item with trailing NBSP", ct: ctForm, body: "grant_type=a&audience=https%3A%2F%2Fa%C2%A0+https%3A%2F%2Fb",
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "audience item with leading U+2003", ct: ctJSON, body: `{"grant_type":"a","audience":["https://a","\u2003https://b"]}`,
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "body over the limit", ct: ctForm, body: "grant_type=a&x=" + strings.Repeat("y", 100), maxBody: 64,
			status: 413, code: "invalid_request", desc: "larger than 64 bytes"},
		{name: "body over the default limit", ct: ctForm, body: "grant_type=a&x=" + strings.Repeat("y", DefaultMaxBodyBytes),
			status: 413, code: "invalid_request", desc: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(tc.ct, tc.query, tc.body, tc.maxBody, tc.authorization...)
			if err == nil {
				t.Fatalf("Parse = %+v, want error %s", *got, tc.code)
			}
			if got != nil {
				t.Errorf("Parse returned a request with its error")
			}
			if err.Status != tc.status || err.Code != tc.code || !strings.Contains(err.Description, tc.desc) {
				t.Errorf("Parse error = %d %v, want %d %s with %q", err.Status, err, tc.status, tc.code, tc.desc)
			}
			if strings.Contains(err.Description, secret) {
				t.Errorf("the description holds the secret: %q", err.Description)
			}
			if tc.code == "invalid_client" && err.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("invalid_client from the Authorization header lacks WWW-Authenticate")
			}
		})
	}
}

// TestParseChunkedOverLimit reads a body of unknown length only up to the
// limit.
func TestParseChunkedOverLimit(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=a&x="+strings.Repeat("y", 200)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", ctForm)
	_, err := Parse(httptest.NewRecorder(), r, 100)
	if err == nil || err.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Parse = %v, want 413", err)
	}
	// The declared length alone is enough.
	r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=a"))
	r.ContentLength = 1 << 40
	r.Header.Set("Content-Type", ctForm)
	if _, err = Parse(httptest.NewRecorder(), r, 100); err == nil || err.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Parse = %v, want 413", err)
	}
}

// TestParseNamesTheFirstBadParameter keeps the description stable when
// several parameters are bad, whatever the map order.
func TestParseNamesTheFirstBadParameter(t *testing.T) {
	t.Parallel()
	for range 20 {
		_, err := parse(ctForm, "", "scope=%20x&grant_type=a&client_id=c%0A&audience=%20y", 0)
		if err == nil || !strings.Contains(err.Description, "'audience'") {
			t.Fatalf("Parse error = %v, want the first parameter in name order, audience", err)
		}
	}
}

func TestForm(t *testing.T) {
	t.Parallel()
	req, err := parse(ctJSON, "", `{"grant_type":"client_credentials","scope":"b a","audience":["https://a"],"resource":"https://b","code":"xyz"}`, 0,
		basic("integration:a-long-secret-value"))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"integration"}, "scope": {"b a"},
		"audience": {"https://a https://b"}, "code": {"xyz"},
	}
	if got := req.Form(); !reflect.DeepEqual(got, want) {
		t.Errorf("Form = %v, want %v", got, want)
	}
	if req.Get("code") != "xyz" || req.Get("client_secret") != "" || req.Get("grant_type") != "" {
		t.Errorf("Get: code %q, client_secret %q, grant_type %q", req.Get("code"), req.Get("client_secret"), req.Get("grant_type"))
	}
	// Form must not alias Params.
	req.Form().Set("code", "changed")
	if req.Get("code") != "xyz" {
		t.Errorf("Form shares storage with Params")
	}

	req, err = parse(ctForm, "", "grant_type=client_credentials", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.Form(), (url.Values{"grant_type": {"client_credentials"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("Form = %v, want %v", got, want)
	}
}
