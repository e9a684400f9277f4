package handler_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// badMaxBody is the body limit of the bad-input server: small, so that
// oversized bodies fit in socket buffers and the client always reads the
// answer instead of failing on a half-written request.
const badMaxBody = 2048

// Clients the bad-input server adds to the fixtures: neither may use
// client_credentials.
const (
	noGrantPublicID       = "no-grant-public"
	noGrantConfidentialID = "no-grant-confidential"
)

// badCase is one bad token request and the error it must get.
type badCase struct {
	name        string
	method      string // default POST
	query       string // raw query of the token URL
	contentType string // "" sends no Content-Type
	body        string
	header      []string // extra header pairs, added in order (a name may repeat)
	chunked     bool     // send the body without Content-Length
	// declaredLen > 0 sends a raw request declaring this Content-Length
	// with a shorter body. It must exceed what net/http drains after the
	// handler (256 KiB), or the server waits for the missing bytes.
	declaredLen int64

	status     int
	code       string
	desc       string            // substring of error_description
	wantHeader map[string]string // exact response header values; "" = absent
	// secrets that must not appear in the response besides the
	// integration secret and any Authorization value sent.
	secrets []string
	// sameDesc groups rows that must answer the same error_description:
	// failed authentications must not tell unknown clients from wrong
	// secrets.
	sameDesc string
}

// newBadInputServer is the fixture server with failed-auth limiting off
// (every request comes from 127.0.0.1 and many fail authentication on
// purpose), a small body limit and two clients without client_credentials.
func newBadInputServer(t testing.TB, mutate func(*handler.Config)) *httptest.Server {
	t.Helper()
	ts, _ := newServer(t, func(cfg *handler.Config) {
		cfg.RateLimits.FailedAuth = "off"
		cfg.MaxBodyBytes = badMaxBody
		store := cfg.Clients.(*memory.Store)
		for _, c := range []*storage.Client{
			{ID: noGrantPublicID, Public: true, GrantTypes: []string{"urn:example:other"},
				Scopes: []string{"market:id:*"}, Audiences: []string{apiAudience}},
			{ID: noGrantConfidentialID, SecretHash: integrationHash, GrantTypes: []string{"urn:example:other"},
				Scopes: []string{"market:all"}, Audiences: []string{apiAudience}},
		} {
			if err := store.CreateClient(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		if mutate != nil {
			mutate(cfg)
		}
	})
	return ts
}

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

// basicRaw is an Authorization header carrying creds base64-encoded as is,
// without the form-urlencoding a correct client applies.
func basicRaw(creds string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
}

// basicFor is a correct client_secret_basic header (RFC 6749 §2.3.1).
func basicFor(id, secret string) string {
	return basicRaw(url.QueryEscape(id) + ":" + url.QueryEscape(secret))
}

func formBody(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var (
	auth401     = `Basic realm="tollgate", charset="UTF-8"`
	cc          = "client_credentials"
	wrongSecret = "wrong-secret-value-123"
)

func badInputCases() []badCase {
	cases := []badCase{
		// grant_type
		{name: "unknown grant type", contentType: ctForm, body: formBody("grant_type", "urn:example:unknown"),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "unknown grant type public", contentType: ctForm, body: formBody("grant_type", "password", "client_id", salesChannelID),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "grant_type missing", contentType: ctForm, body: formBody("scope", "market:all"),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type empty", contentType: ctForm, body: "grant_type=&client_id=" + salesChannelID,
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type missing json", contentType: ctJSON, body: `{}`,
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type null json", contentType: ctJSON, body: `{"grant_type":null,"client_id":"sales-channel"}`,
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type twice in one value", contentType: ctForm,
			body:   formBody("grant_type", "client_credentials client_credentials", "client_id", salesChannelID, "scope", "market:id:x"),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "grant_type upper case", contentType: ctForm,
			body:   formBody("grant_type", "CLIENT_CREDENTIALS", "client_id", salesChannelID, "scope", "market:id:x"),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "grant_type upper case json", contentType: ctJSON,
			body:   jsonBody("grant_type", "Client_Credentials", "client_id", salesChannelID, "scope", "market:id:x"),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},

		// client authentication: 401, challenge exactly when Basic was used,
		// one description whatever failed.
		{name: "wrong secret basic", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, wrongSecret)}, secrets: []string{wrongSecret},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "wrong secret post", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", integrationID, "client_secret", wrongSecret),
			status: 401, code: "invalid_client", secrets: []string{wrongSecret}, sameDesc: "auth"},
		{name: "wrong secret json", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_id", integrationID, "client_secret", wrongSecret),
			status: 401, code: "invalid_client", secrets: []string{wrongSecret}, sameDesc: "auth"},
		{name: "secret of another client basic", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret+"x")},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "unknown client basic", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor("nobody", integrationSecret)},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "unknown client post", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", "nobody", "client_secret", integrationSecret),
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "unknown client without secret", contentType: ctForm, body: formBody("grant_type", cc, "client_id", "nobody"),
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "public client sends a secret", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "client_secret", integrationSecret, "scope", "market:id:x"),
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "public client sends a secret via basic", contentType: ctForm, body: formBody("grant_type", cc, "scope", "market:id:x"),
			header: []string{"Authorization", basicFor(salesChannelID, integrationSecret)},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "public client via basic with empty secret", contentType: ctForm, body: formBody("grant_type", cc, "scope", "market:id:x"),
			header: []string{"Authorization", basicFor(salesChannelID, "")},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "confidential client sends no secret", contentType: ctForm, body: formBody("grant_type", cc, "client_id", integrationID),
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "confidential client sends no secret json", contentType: ctJSON, body: jsonBody("grant_type", cc, "client_id", integrationID),
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "confidential client empty secret via basic", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, "")},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "client id case differs", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor("Integration", integrationSecret)},
			status: 401, code: "invalid_client", sameDesc: "auth"},
		{name: "no credentials at all", contentType: ctForm, body: formBody("grant_type", cc, "scope", "market:all"),
			status: 401, code: "invalid_client", desc: "client"},
		{name: "no credentials json", contentType: ctJSON, body: jsonBody("grant_type", cc),
			status: 401, code: "invalid_client", desc: "client"},
		{name: "empty basic client id", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(":" + integrationSecret)},
			status: 401, code: "invalid_client", desc: "client_id"},
		{name: "bearer instead of basic", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", "Bearer " + integrationSecret},
			status: 401, code: "invalid_client", desc: "Basic"},
		{name: "digest instead of basic", contentType: ctForm, body: formBody("grant_type", cc, "client_id", integrationID),
			header: []string{"Authorization", `Digest username="integration"`},
			status: 401, code: "invalid_client", desc: "Basic"},

		// grants the client may not use
		{name: "public client lacks client_credentials", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", noGrantPublicID, "scope", "market:id:x"),
			status: 400, code: "unauthorized_client", desc: "grant_type"},
		{name: "confidential client lacks client_credentials", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(noGrantConfidentialID, integrationSecret)},
			status: 400, code: "unauthorized_client", desc: "grant_type"},

		// JSON bodies
		{name: "json malformed", contentType: ctJSON, body: `{"grant_type":"client_credentials",`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json truncated value", contentType: ctJSON, body: `{"grant_type":`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json not json", contentType: ctJSON, body: `grant_type=client_credentials`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json empty body", contentType: ctJSON, body: ``,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json array top level", contentType: ctJSON, body: `[{"grant_type":"client_credentials"}]`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json string top level", contentType: ctJSON, body: `"client_credentials"`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json null top level", contentType: ctJSON, body: `null`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json nested object", contentType: ctJSON, body: `{"grant_type":{"type":"client_credentials"},"client_id":"sales-channel"}`,
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "json nested array in scope", contentType: ctJSON, body: `{"grant_type":"client_credentials","client_id":"sales-channel","scope":["market:id:x"]}`,
			status: 400, code: "invalid_request", desc: "scope"},
		{name: "json array of arrays in audience", contentType: ctJSON, body: `{"grant_type":"client_credentials","audience":[["https://api.example.com"]]}`,
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "json number value", contentType: ctJSON, body: `{"grant_type":"client_credentials","client_id":123}`,
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "json boolean value", contentType: ctJSON, body: `{"grant_type":"client_credentials","client_id":"sales-channel","scope":true}`,
			status: 400, code: "invalid_request", desc: "scope"},
		{name: "json trailing garbage", contentType: ctJSON, body: `{"grant_type":"client_credentials","client_id":"sales-channel"} x`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json two objects", contentType: ctJSON, body: `{"grant_type":"client_credentials"}{"client_id":"sales-channel"}`,
			status: 400, code: "invalid_request", desc: "JSON"},
		{name: "json duplicated key", contentType: ctJSON, body: `{"grant_type":"client_credentials","client_id":"sales-channel","client_id":"integration"}`,
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "json duplicated secret key", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","client_id":"integration","client_secret":"x","client_secret":"a-long-secret-value"}`,
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "json invalid utf-8", contentType: ctJSON, body: "{\"grant_type\":\"client_credentials\",\"client_id\":\"sales\xff\"}",
			status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "json byte order mark", contentType: ctJSON, body: "\ufeff" + jsonBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "JSON"},

		// form bodies
		{name: "form grant_type twice", contentType: ctForm, body: "grant_type=client_credentials&grant_type=client_credentials&client_id=sales-channel",
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "form scope twice", contentType: ctForm, body: "grant_type=client_credentials&client_id=sales-channel&scope=market:id:a&scope=market:id:b",
			status: 400, code: "invalid_request", desc: "scope"},
		{name: "form client_id twice", contentType: ctForm, body: "grant_type=client_credentials&client_id=sales-channel&client_id=integration",
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "form client_secret twice", contentType: ctForm,
			body:   "grant_type=client_credentials&client_id=integration&client_secret=x&client_secret=a-long-secret-value",
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "form audience twice", contentType: ctForm,
			body:   "grant_type=client_credentials&client_id=sales-channel&audience=https://api.example.com&audience=https://api.example.com",
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "form repeated with one empty", contentType: ctForm, body: "grant_type=&grant_type=client_credentials&client_id=sales-channel",
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "form bad percent escape", contentType: ctForm, body: "grant_type=client%zzcredentials&client_id=sales-channel",
			status: 400, code: "invalid_request", desc: "form"},
		{name: "form truncated percent escape", contentType: ctForm, body: "grant_type=client_credentials&client_id=sales-channel%2",
			status: 400, code: "invalid_request", desc: "form"},
		{name: "form semicolon separator", contentType: ctForm, body: "grant_type=client_credentials;client_id=sales-channel",
			status: 400, code: "invalid_request", desc: "form"},
		{name: "form invalid utf-8", contentType: ctForm, body: "grant_type=client_credentials&client_id=sales%FF",
			status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "form raw invalid utf-8", contentType: ctForm, body: "grant_type=client_credentials&client_id=sales\xff",
			status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "form json body", contentType: ctForm, body: jsonBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "form empty body", contentType: ctForm, body: "",
			status: 400, code: "invalid_request", desc: "grant_type"},

		// credentials sent two ways, or malformed Basic
		{name: "basic and body secret", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", integrationID, "client_secret", integrationSecret),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic and body secret only", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_secret", integrationSecret),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic and json secret", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_secret", wrongSecret),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)}, secrets: []string{wrongSecret},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic and different body client_id", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "body secret without client_id", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_secret", integrationSecret),
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "authorization header repeated", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret), "Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "authorization basic then bearer", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret), "Authorization", "Bearer x"},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic bad base64", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", "Basic !!!not-base64!!!"},
			status: 400, code: "invalid_request", desc: "base64"},
		{name: "basic unpadded base64", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", strings.TrimRight(basicFor(integrationID, integrationSecret+"x"), "=")},
			status: 400, code: "invalid_request", desc: "base64"},
		{name: "basic without credentials", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", "Basic"},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic double space", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", "Basic  " + strings.TrimPrefix(basicFor(integrationID, integrationSecret), "Basic ")},
			status: 400, code: "invalid_request", desc: "Authorization"},
		{name: "basic no colon", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + integrationSecret)},
			status: 400, code: "invalid_request", desc: "':'"},
		{name: "basic bad percent escape in id", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw("integ%zzration:" + integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic bad percent escape in secret", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "%")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic invalid utf-8 secret", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "%FF")},
			status: 400, code: "invalid_request", desc: "client_secret"},

		// credentials in the URL (RFC 6749 §2.3.1)
		{name: "query client_id and secret", query: "client_id=integration&client_secret=a-long-secret-value",
			contentType: ctForm, body: formBody("grant_type", cc),
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "query client_secret with basic", query: "client_secret=a-long-secret-value",
			contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "query client_id with body secret", query: "client_id=integration",
			contentType: ctForm, body: formBody("grant_type", cc, "client_secret", integrationSecret),
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "query escaped name", query: "client%5Fsecret=a-long-secret-value",
			contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "URL"},
		// A malformed query must not hide the credentials it carries.
		{name: "query secret beside a bad escape", query: "client_secret=a-long-secret-value&x=%zz",
			contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "URL"},
		{name: "query secret beside a semicolon", query: "client_id=integration;client_secret=a-long-secret-value",
			contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret)},
			status: 400, code: "invalid_request", desc: "URL"},

		// body size
		{name: "body over the limit", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "pad", strings.Repeat("x", badMaxBody)),
			status: 413, code: "invalid_request", desc: "larger than"},
		{name: "json body over the limit", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_id", salesChannelID, "pad", strings.Repeat("x", badMaxBody)),
			status: 413, code: "invalid_request", desc: "larger than"},
		{name: "body one byte over the limit", contentType: ctForm,
			body:   padForm("grant_type=urn:example:unknown&pad=", badMaxBody+1),
			status: 413, code: "invalid_request", desc: "larger than"},
		{name: "body exactly at the limit is read", contentType: ctForm,
			body:   padForm("grant_type=urn:example:unknown&pad=", badMaxBody),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "huge content-length", contentType: ctForm, body: formBody("grant_type", cc), declaredLen: 1 << 40,
			status: 413, code: "invalid_request", desc: "larger than"},
		{name: "chunked body over the limit", contentType: ctForm, chunked: true,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "pad", strings.Repeat("x", 2*badMaxBody)),
			status: 413, code: "invalid_request", desc: "larger than"},
		{name: "chunked body under the limit is read", contentType: ctForm, chunked: true,
			body:   formBody("grant_type", "urn:example:unknown", "client_id", salesChannelID),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},

		// method
		{name: "GET", method: http.MethodGet, status: 405, code: "invalid_request", desc: "POST",
			wantHeader: map[string]string{"Allow": "POST"}},
		{name: "GET with query credentials", method: http.MethodGet, query: "grant_type=client_credentials&client_id=integration&client_secret=a-long-secret-value",
			status: 405, code: "invalid_request", desc: "POST", wantHeader: map[string]string{"Allow": "POST"}},
		{name: "PUT", method: http.MethodPut, contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", integrationID, "client_secret", integrationSecret),
			status: 405, code: "invalid_request", desc: "POST", wantHeader: map[string]string{"Allow": "POST"}},
		{name: "DELETE", method: http.MethodDelete, status: 405, code: "invalid_request", desc: "POST",
			wantHeader: map[string]string{"Allow": "POST"}},
		{name: "PATCH", method: http.MethodPatch, contentType: ctJSON, body: jsonBody("grant_type", cc),
			status: 405, code: "invalid_request", desc: "POST", wantHeader: map[string]string{"Allow": "POST"}},

		// content type
		{name: "content type text/plain", contentType: "text/plain", body: formBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "content type multipart", contentType: "multipart/form-data; boundary=XyZ",
			body:   "--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--XyZ--\r\n",
			status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "content type missing", body: formBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "content type xml", contentType: "application/xml", body: "<grant_type>client_credentials</grant_type>",
			status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "content type malformed", contentType: "application/x-www-form-urlencoded;;;", body: formBody("grant_type", cc),
			status: 400, code: "invalid_request", desc: "Content-Type"},
		{name: "content type charset latin1", contentType: "application/x-www-form-urlencoded; charset=latin1",
			body:   formBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "UTF-8"},
		{name: "content type json charset iso-8859-1", contentType: "application/json; charset=iso-8859-1",
			body:   jsonBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_request", desc: "UTF-8"},

		// Basic credentials with stray whitespace or control characters,
		// once decoded.
		{name: "basic secret with trailing LF", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "\n")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with encoded LF", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "%0A")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with encoded CRLF", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret+"\r\n")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with trailing plus", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "+")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with leading space", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ": " + integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with NUL", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + ":" + integrationSecret + "\x00")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with NBSP", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, integrationSecret+"\u00a0")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic secret with tab inside", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID, "a-long\tsecret-value")},
			status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "basic id with trailing LF", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + "\n:" + integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic id with encoded LF", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(integrationID + "%0A:" + integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic id with leading space", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicRaw(" " + integrationID + ":" + integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},
		{name: "basic id with U+2003", contentType: ctForm, body: formBody("grant_type", cc),
			header: []string{"Authorization", basicFor(integrationID+"\u2003", integrationSecret)},
			status: 400, code: "invalid_request", desc: "client_id"},

		// scope and resource syntax
		{name: "scope double space", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a  market:id:b"),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "scope double space json", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a  market:id:b"),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "scope with quote", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", `market:id:"a"`),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "scope with inner NBSP", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a\u00a0market:id:b"),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "resource not absolute", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "resource", "api.example.com/v1"),
			status: 400, code: "invalid_target", desc: "resource"},
		{name: "resource relative path", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "resource", "/v1"),
			status: 400, code: "invalid_target", desc: "resource"},
		{name: "resource with fragment", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "resource", apiAudience+"#frag"),
			status: 400, code: "invalid_target", desc: "resource"},
		{name: "resource with empty fragment json", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","client_id":"sales-channel","scope":"market:id:a","resource":["https://api.example.com","https://api.example.com/x#"]}`,
			status: 400, code: "invalid_target", desc: "resource"},
		{name: "second resource not absolute", contentType: ctForm,
			body:   "grant_type=client_credentials&client_id=sales-channel&scope=market:id:a&resource=https%3A%2F%2Fapi.example.com&resource=nope",
			status: 400, code: "invalid_target", desc: "resource"},

		// policy: what the client asked for against what it may have
		{name: "public client without scope", contentType: ctForm, body: formBody("grant_type", cc, "client_id", salesChannelID),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "scope not allowed", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:all"),
			status: 400, code: "invalid_scope", desc: "market:all"},
		{name: "wildcard scope requested", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:*"),
			status: 400, code: "invalid_scope", desc: "scope"},
		{name: "audience not allowed", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "audience", "https://evil.example"),
			status: 400, code: "invalid_target", desc: "https://evil.example"},
		{name: "resource not allowed", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "resource", "https://evil.example"),
			status: 400, code: "invalid_target", desc: "https://evil.example"},
		// Each audience of the space-separated list is a value: one with
		// a Unicode space at its edge is stray whitespace, not a name.
		{name: "audience list item with trailing NBSP", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "audience", apiAudience+"\u00a0 "+apiAudience),
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "audience json array item with trailing U+2003", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","client_id":"integration","client_secret":"a-long-secret-value","audience":["https://api.example.com\u2003","https://qa-api.example.com"]}`,
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "audience double space", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "audience", apiAudience+"  "+apiAudience),
			status: 400, code: "invalid_request", desc: "audience"},
		{name: "audience json array item with space", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","client_id":"sales-channel","audience":["https://api.example.com x"]}`,
			status: 400, code: "invalid_request", desc: "audience"},

		// error_description stays within RFC 6749 §5.2's characters even
		// when it quotes hostile parameter names and values.
		{name: "json hostile name not a string", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","a\"b\\c\nd\u00e9\u2028\u0000":1}`,
			status: 400, code: "invalid_request", desc: "must be a string"},
		{name: "json hostile name repeated", contentType: ctJSON,
			body:   `{"grant_type":"client_credentials","x\"\\\r\n\u00e9\ud83d\ude00":"1","x\"\\\r\n\u00e9\ud83d\ude00":"2"}`,
			status: 400, code: "invalid_request", desc: "repeated"},
		{name: "form hostile name repeated", contentType: ctForm,
			body:   "grant_type=client_credentials&" + url.Values{"\"q\\\n\u00e9\u2028\x7f": {"1", "2"}}.Encode(),
			status: 400, code: "invalid_request", desc: "repeated"},
		{name: "form hostile name with bad value", contentType: ctForm,
			body:   "grant_type=client_credentials&" + url.Values{"\"q\\\u00e9": {"v\n"}}.Encode(),
			status: 400, code: "invalid_request", desc: "control character"},
		{name: "hostile grant type echoed", contentType: ctForm,
			body:   formBody("grant_type", "\"urn\\x\u00e9\u2028\u00a0y\"", "client_id", salesChannelID),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "long grant type echoed", contentType: ctForm,
			body:   formBody("grant_type", strings.Repeat("\"\\\u00e9", 100), "client_id", salesChannelID),
			status: 400, code: "unsupported_grant_type", desc: "grant_type"},
		{name: "hostile resource echoed", contentType: ctJSON,
			body:   jsonBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:a", "resource", "https://x.example/\"\\\u00e9\u2028#\"frag\""),
			status: 400, code: "invalid_target", desc: "resource"},
		{name: "hostile scope echoed", contentType: ctForm,
			body:   formBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:\u00e9\u00e9"),
			status: 400, code: "invalid_scope", desc: "scope"},
	}
	return append(cases, whitespaceCases()...)
}

// padForm returns prefix padded with 'x' to exactly n bytes.
func padForm(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }

// whitespaceCases puts stray whitespace and control characters in each
// parameter of an otherwise valid request (TestBadInputBaseRequests checks
// that the clean request succeeds), form and JSON.
func whitespaceCases() []badCase {
	base := [][2]string{
		{"grant_type", cc}, {"client_id", integrationID}, {"client_secret", integrationSecret},
		{"scope", "market:all"}, {"audience", apiAudience}, {"resource", apiAudience},
	}
	dirt := []struct {
		name  string
		apply func(string) string
	}{
		{"leading space", func(v string) string { return " " + v }},
		{"trailing space", func(v string) string { return v + " " }},
		{"leading tab", func(v string) string { return "\t" + v }},
		{"inner tab", func(v string) string { return v[:4] + "\t" + v[4:] }},
		{"trailing LF", func(v string) string { return v + "\n" }},
		{"leading LF", func(v string) string { return "\n" + v }},
		{"inner LF", func(v string) string { return v[:4] + "\n" + v[4:] }},
		{"trailing CRLF", func(v string) string { return v + "\r\n" }},
		{"trailing CR", func(v string) string { return v + "\r" }},
		{"inner NUL", func(v string) string { return v[:4] + "\x00" + v[4:] }},
		{"trailing NUL", func(v string) string { return v + "\x00" }},
		{"inner DEL", func(v string) string { return v[:4] + "\x7f" + v[4:] }},
		{"trailing NEL", func(v string) string { return v + "\u0085" }},
		{"leading NBSP", func(v string) string { return "\u00a0" + v }},
		{"trailing NBSP", func(v string) string { return v + "\u00a0" }},
		{"leading U+2003", func(v string) string { return "\u2003" + v }},
		{"trailing U+2003", func(v string) string { return v + "\u2003" }},
		{"trailing U+2028", func(v string) string { return v + "\u2028" }},
	}
	var cases []badCase
	for _, p := range base {
		for _, d := range dirt {
			kv := make([]string, 0, 2*len(base))
			dirty := d.apply(p[1])
			for _, q := range base {
				if q[0] == p[0] {
					kv = append(kv, q[0], dirty)
				} else {
					kv = append(kv, q[0], q[1])
				}
			}
			for _, enc := range []struct {
				name, ct string
				body     func(...string) string
			}{{"form", ctForm, formBody}, {"json", ctJSON, jsonBody}} {
				cases = append(cases, badCase{
					name:        fmt.Sprintf("%s %s %s", enc.name, p[0], d.name),
					contentType: enc.ct, body: enc.body(kv...),
					status: 400, code: "invalid_request", desc: p[0], secrets: []string{dirty},
				})
			}
		}
	}
	return cases
}

// TestBadInputBaseRequests proves the whitespace rows fail because of the
// one dirty value: the same requests, clean, get a token.
func TestBadInputBaseRequests(t *testing.T) {
	t.Parallel()
	ts := newBadInputServer(t, nil)
	kv := []string{"grant_type", cc, "client_id", integrationID, "client_secret", integrationSecret,
		"scope", "market:all", "audience", apiAudience, "resource", apiAudience}
	for _, tc := range []struct{ ct, body string }{{ctForm, formBody(kv...)}, {ctJSON, jsonBody(kv...)}} {
		res := postRaw(t, ts, tc.ct, tc.body)
		if res.status != http.StatusOK || res.body.AccessToken == "" {
			t.Errorf("%s: status %d, want 200 with a token: %s", tc.ct, res.status, res.raw)
		}
	}
	// And the chunked path, and one byte under the limit, work.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath, io.NopCloser(strings.NewReader(formBody(kv...))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", ctForm)
	if res := do(t, req); res.status != http.StatusOK {
		t.Errorf("chunked: status %d: %s", res.status, res.raw)
	}
	res := postRaw(t, ts, ctForm, padForm(formBody(kv...)+"&pad=", badMaxBody))
	if res.status != http.StatusOK {
		t.Errorf("body at the limit: status %d: %s", res.status, res.raw)
	}
}

// TestBadInput sends every bad request through real HTTP and checks what
// every error answer must have, besides the row's own expectations.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ts := newBadInputServer(t, nil)
	cases := badInputCases()

	var mu sync.Mutex
	descs := map[string]map[string][]string{} // sameDesc → description → rows
	seen := map[string]bool{}
	t.Run("rows", func(t *testing.T) {
		for _, tc := range cases {
			if seen[tc.name] {
				t.Fatalf("duplicate row name %q", tc.name)
			}
			seen[tc.name] = true
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				res := sendBad(t, ts, tc)
				desc := checkBadResponse(t, tc, res)
				if tc.sameDesc != "" {
					mu.Lock()
					if descs[tc.sameDesc] == nil {
						descs[tc.sameDesc] = map[string][]string{}
					}
					descs[tc.sameDesc][desc] = append(descs[tc.sameDesc][desc], tc.name)
					mu.Unlock()
				}
			})
		}
	})
	for group, byDesc := range descs {
		if len(byDesc) != 1 {
			t.Errorf("rows of group %q must share one error_description (no oracle), got %d: %q", group, len(byDesc), byDesc)
		}
	}
}

// sendBad sends tc and returns the answer, over a raw connection when the
// row declares a Content-Length the body does not have.
func sendBad(t *testing.T, ts *httptest.Server, tc badCase) result {
	t.Helper()
	method := tc.method
	if method == "" {
		method = http.MethodPost
	}
	target := handler.TokenPath
	if tc.query != "" {
		target += "?" + tc.query
	}
	if tc.declaredLen > 0 {
		return sendDeclaredLength(t, ts, method, target, tc)
	}
	var body io.Reader
	if tc.body != "" || method == http.MethodPost {
		body = strings.NewReader(tc.body)
	}
	req, err := http.NewRequest(method, ts.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if tc.chunked {
		req.Body = io.NopCloser(strings.NewReader(tc.body))
		req.ContentLength = -1
	}
	if tc.contentType != "" {
		req.Header.Set("Content-Type", tc.contentType)
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Add(tc.header[i], tc.header[i+1])
	}
	return exchange(t, req)
}

// exchange is do without its JSON decoding: checkBadResponse decodes
// strictly itself.
func exchange(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
}

func sendDeclaredLength(t *testing.T, ts *httptest.Server, method, target string, tc badCase) result {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, ts.Listener.Addr())
	if tc.contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", tc.contentType)
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", tc.header[i], tc.header[i+1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", tc.declaredLen, tc.body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
}

// checkBadResponse asserts what every error answer needs and returns its
// error_description.
func checkBadResponse(t *testing.T, tc badCase, res result) string {
	t.Helper()
	if res.status >= 500 {
		t.Errorf("status %d: a client's bad input must never be a server error: %s", res.status, res.raw)
	}
	if res.status != tc.status {
		t.Errorf("status %d, want %d: %s", res.status, tc.status, res.raw)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(res.raw))
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, res.raw)
	}
	if dec.More() {
		t.Errorf("body has data after the JSON object: %q", res.raw)
	}
	code, _ := body["error"].(string)
	desc, _ := body["error_description"].(string)
	if code != tc.code {
		t.Errorf("error = %q, want %q (description %q)", code, tc.code, desc)
	}
	if _, ok := body["access_token"]; ok {
		t.Errorf("an error answer carries an access_token: %s", res.raw)
	}
	if d, ok := body["error_description"]; ok {
		if _, isString := d.(string); !isString {
			t.Errorf("error_description is %T, want a string", d)
		}
	}
	if !strings.Contains(desc, tc.desc) {
		t.Errorf("error_description %q does not contain %q", desc, tc.desc)
	}
	if i := strings.IndexFunc(desc, func(r rune) bool { return !descChar(r) }); i >= 0 {
		t.Errorf("error_description %q has %q at %d, outside RFC 6749 §5.2's %%x20-21 / %%x23-5B / %%x5D-7E", desc, desc[i:i+1], i)
	}
	if len(desc) > 512 {
		t.Errorf("error_description is %d bytes long; quoted input must be shortened", len(desc))
	}

	// 401 carries the Basic challenge exactly when the client used the
	// Authorization header (RFC 6749 §5.2); other answers carry none.
	usedAuthorization := false
	for i := 0; i+1 < len(tc.header); i += 2 {
		usedAuthorization = usedAuthorization || http.CanonicalHeaderKey(tc.header[i]) == "Authorization"
	}
	challenge := res.header.Values("WWW-Authenticate")
	switch {
	case res.status == http.StatusUnauthorized && usedAuthorization:
		if len(challenge) != 1 || challenge[0] != auth401 {
			t.Errorf("WWW-Authenticate = %q, want [%q] on a 401 to a request that used Basic", challenge, auth401)
		}
	case len(challenge) != 0:
		t.Errorf("WWW-Authenticate = %q, want none (status %d, Authorization used: %v)", challenge, res.status, usedAuthorization)
	}
	if res.status == http.StatusMethodNotAllowed {
		if got := res.header.Get("Allow"); got != http.MethodPost {
			t.Errorf("Allow = %q on a 405, want POST", got)
		}
	}
	for k, want := range tc.wantHeader {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// Nothing the client sent as a credential comes back.
	forbidden := append([]string{integrationSecret}, tc.secrets...)
	for i := 0; i+1 < len(tc.header); i += 2 {
		if _, creds, _ := strings.Cut(tc.header[i+1], " "); len(creds) >= 8 {
			forbidden = append(forbidden, creds)
		}
	}
	for _, s := range forbidden {
		if strings.Contains(res.raw, s) || strings.Contains(desc, s) {
			t.Errorf("the response body holds the credential %q: %s", s, res.raw)
		}
		for k, vs := range res.header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("response header %s holds the credential %q", k, s)
				}
			}
		}
	}
	return desc
}

// descChar reports whether r may appear in an error_description (RFC 6749
// §5.2: %x20-21 / %x23-5B / %x5D-7E).
func descChar(r rune) bool {
	return r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5b) || (r >= 0x5d && r <= 0x7e)
}

// TestSecretsNeverLogged logs at Debug level through failed and successful
// requests and searches the log for every secret and token involved.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	ts := newBadInputServer(t, func(cfg *handler.Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})

	secrets := []string{integrationSecret, wrongSecret, integrationSecret + "\n", integrationSecret + "x"}
	var tokens []string
	send := func(name string, res result, wantStatus int) {
		t.Helper()
		if res.status != wantStatus {
			t.Errorf("%s: status %d, want %d: %s", name, res.status, wantStatus, res.raw)
		}
		if res.body.AccessToken != "" {
			tokens = append(tokens, res.body.AccessToken)
		}
	}
	send("wrong secret basic", postForm(t, ts, url.Values{"grant_type": {cc}}, integrationID+":"+wrongSecret), 401)
	send("wrong secret post", postForm(t, ts, url.Values{"grant_type": {cc}, "client_id": {integrationID}, "client_secret": {wrongSecret}}), 401)
	send("wrong secret json", postRaw(t, ts, ctJSON, jsonBody("grant_type", cc, "client_id", integrationID, "client_secret", integrationSecret+"x")), 401)
	send("secret with LF", postForm(t, ts, url.Values{"grant_type": {cc}, "client_id": {integrationID}, "client_secret": {integrationSecret + "\n"}}), 400)
	send("secret with LF basic", postRaw(t, ts, ctForm, formBody("grant_type", cc), "Authorization", basicRaw(integrationID+":"+integrationSecret+"\n")), 400)
	send("basic and body", postForm(t, ts, url.Values{"grant_type": {cc}, "client_secret": {integrationSecret}}, integrationID+":"+integrationSecret), 400)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+handler.TokenPath+"?client_id=integration&client_secret="+integrationSecret,
		strings.NewReader(formBody("grant_type", cc)))
	req.Header.Set("Content-Type", ctForm)
	send("secret in query", do(t, req), 400)
	send("public client with secret", postForm(t, ts, url.Values{"grant_type": {cc}, "client_id": {salesChannelID}, "client_secret": {integrationSecret}, "scope": {"market:id:x"}}), 401)
	send("unknown grant", postForm(t, ts, url.Values{"grant_type": {"urn:x"}}, integrationID+":"+integrationSecret), 400)
	send("scope refused", postForm(t, ts, url.Values{"grant_type": {cc}, "scope": {"market:nope"}}, integrationID+":"+integrationSecret), 400)
	send("success basic", postForm(t, ts, url.Values{"grant_type": {cc}}, integrationID+":"+integrationSecret), 200)
	send("success post", postForm(t, ts, url.Values{"grant_type": {cc}, "client_id": {integrationID}, "client_secret": {integrationSecret}}), 200)
	send("success json", postRaw(t, ts, ctJSON, jsonBody("grant_type", cc, "client_id", integrationID, "client_secret", integrationSecret, "scope", "market:id:abc")), 200)
	send("success public", postRaw(t, ts, ctJSON, jsonBody("grant_type", cc, "client_id", salesChannelID, "scope", "market:id:abc")), 200)
	if len(tokens) != 4 {
		t.Fatalf("got %d tokens, want 4", len(tokens))
	}

	out := logs.String()
	// The test must be able to see a leak: the log holds the requests.
	for _, want := range []string{"client authentication failed", "token issued", `"client_id":"integration"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q; is the Debug logger wired? log:\n%s", want, out)
		}
	}
	for _, s := range secrets {
		for _, form := range []string{s, strings.TrimSpace(s), url.QueryEscape(s),
			base64.StdEncoding.EncodeToString([]byte(integrationID + ":" + s))} {
			if strings.Contains(out, form) {
				t.Errorf("the log holds the secret %q (as %q)", s, form)
			}
		}
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, tok) || strings.Contains(out, sig) {
			t.Errorf("the log holds an access token")
		}
	}
}
