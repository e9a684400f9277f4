package provider

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

// TestDescribe holds each rewording to fosite's hint as fosite builds it
// (the calls are copied from fosite v0.49's source), including those the
// handler's HTTP tests cannot reach with tollgate's configuration: a
// fosite upgrade that changes a hint fails here, not in front of a client.
func TestDescribe(t *testing.T) {
	t.Parallel()
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name string
		err  *fosite.RFC6749Error
		form url.Values
		want string
	}{
		{"unknown client", fosite.ErrInvalidClient.WithHint("The requested OAuth 2.0 Client does not exist."), form("client_id", "ghost"), "client_id 'ghost' is not a registered client"},
		{"no client_id", fosite.ErrInvalidClient.WithHint("The requested OAuth 2.0 Client does not exist."), nil, "the client_id parameter is missing"},
		{"redirect_uri not registered", fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."),
			form("redirect_uri", "https://evil.example"), "redirect_uri 'https://evil.example' is not one this client registered (it must match exactly)"},
		{"redirect_uri missing", fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."),
			nil, "the redirect_uri parameter is missing; it may be left out only by a client that registered exactly one"},
		{"redirect_uri illegal", fosite.ErrInvalidRequest.WithHintf("The redirect URI '%s' contains an illegal character (for example #) or is otherwise invalid.", "https://a#b"), nil,
			"redirect_uri 'https://a#b' is not an absolute URI without a fragment"},
		{"redirect_uri for OpenID Connect", fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter is required when using OpenID Connect 1.0."), nil, "the redirect_uri parameter is missing"},
		{"scope", fosite.ErrInvalidScope.WithHintf("The OAuth 2.0 Client is not allowed to request scope '%s'.", "admin"), nil, "scope 'admin' is not allowed for this client"},
		{"audience", fosite.ErrInvalidRequest.WithHintf(`Requested audience "%s" has not been whitelisted by the OAuth 2.0 Client.`, "https://x"), nil, "audience 'https://x' is not allowed for this client"},
		{"audience, single quotes", fosite.ErrInvalidRequest.WithHintf("Requested audience '%s' has not been whitelisted by the OAuth 2.0 Client.", "https://x"), nil, "audience 'https://x' is not allowed for this client"},
		{"audience unparsable", fosite.ErrInvalidRequest.WithHintf("Unable to parse requested audience '%s'.", "%zz"), nil, "audience '%zz' is not a valid URI"},
		{"response_type missing", fosite.ErrUnsupportedResponseType.WithHint("`The request is missing the 'response_type' parameter."), nil, "the response_type parameter is missing"},
		{"response_type", fosite.ErrUnsupportedResponseType.WithHintf("The client is not allowed to request response_type '%s'.", "token"), nil, "response_type 'token' is not supported; use code"},
		{"response_mode unknown", fosite.ErrUnsupportedResponseMode.WithHintf("Request with unsupported response_mode \"%s\".", "x"), nil, "response_mode 'x' is not supported; use query, or leave it out"},
		{"response_mode, client without modes", fosite.ErrUnsupportedResponseMode.WithHintf("The request has response_mode \"%s\". set but registered OAuth 2.0 client doesn't support response_mode", "fragment"), nil,
			"response_mode 'fragment' is not supported; use query, or leave it out"},
		{"response_mode not allowed", fosite.ErrUnsupportedResponseMode.WithHintf("The client is not allowed to request response_mode '%s'.", "form_post"), nil, "response_mode 'form_post' is not supported; use query, or leave it out"},
		{"insecure response_mode", fosite.ErrUnsupportedResponseMode.WithHintf("Insecure response_mode '%s' for the response_type '%s'.", "query", "[token]"), nil, "this response_mode is not supported; use query, or leave it out"},
		{"state short", fosite.ErrInvalidState.WithHintf("Request parameter 'state' must be at least be %d characters long to ensure sufficient entropy.", 8), form("state", "abc"),
			"state must be at least 8 characters long, so that it cannot be guessed"},
		{"state missing", fosite.ErrInvalidState.WithHintf("Request parameter 'state' must be at least be %d characters long to ensure sufficient entropy.", 8), nil,
			"the state parameter is missing; send at least 8 random characters"},
		{"request and request_uri", fosite.ErrInvalidRequest.WithHint("OpenID Connect parameters 'request' and 'request_uri' were both given, but you can use at most one."), nil,
			"request objects (request, request_uri) are not supported"},
		{"request_uri", fosite.ErrRequestURINotSupported.WithHint("OpenID Connect 'request_uri' context was given, but the OAuth 2.0 Client does not implement advanced OpenID Connect capabilities."), nil,
			"request_uri is not supported; send the parameters in the query"},
		{"request", fosite.ErrRequestNotSupported.WithHint("OpenID Connect 'request' context was given, but the OAuth 2.0 Client does not implement advanced OpenID Connect capabilities."), nil,
			"request objects are not supported; send the parameters in the query"},
		{"request without keys", fosite.ErrInvalidRequest.WithHint("OpenID Connect 'request' or 'request_uri' context was given, but the OAuth 2.0 Client does not have any JSON Web Keys registered."), nil,
			"request objects (request, request_uri) are not supported"},
		{"body", fosite.ErrInvalidRequest.WithHint("Unable to parse HTTP body, make sure to send a properly formatted form request body."), nil, "the request body is not a valid form"},
		{"insecure redirect", fosite.ErrInvalidRequest.WithHint("Redirect URL is using an insecure protocol, http is only allowed for hosts with suffix 'localhost', for example: http://myapp.localhost/."), nil,
			"redirect_uri must use https (http only to localhost)"},
		{"grant not allowed", fosite.ErrUnauthorizedClient.WithHint("The OAuth 2.0 Client is not allowed to use authorization grant \"authorization_code\"."), nil,
			"this client may not use grant_type 'authorization_code'"},
		{"code reused", fosite.ErrInvalidGrant.WithHint("The authorization code has already been used. Additionally, an error occurred during processing the access token revocation."), nil,
			"the authorization code was already used"},
		{"code of another client", fosite.ErrInvalidGrant.WithHint("The OAuth 2.0 Client ID from this request does not match the one from the authorize request."), nil, "the authorization code was issued to another client"},
		{"redirect_uri mismatch", fosite.ErrInvalidGrant.WithHint("The \"redirect_uri\" from this request does not match the one from the authorize request."), form("redirect_uri", "https://b"),
			"redirect_uri is not the one of the authorization request"},
		{"redirect_uri left out", fosite.ErrInvalidGrant.WithHint("The \"redirect_uri\" from this request does not match the one from the authorize request."), nil,
			"the redirect_uri parameter is missing; send the one of the authorization request"},
		{"verifier mismatch", fosite.ErrInvalidGrant.WithHint("The PKCE code challenge did not match the code verifier."), nil, "code_verifier does not match the code_challenge of the authorization request"},
		{"verifier missing", fosite.ErrInvalidGrant.WithHint("The PKCE code verifier must be at least 43 characters."), nil, "the code_verifier parameter is missing (PKCE)"},
		{"verifier short", fosite.ErrInvalidGrant.WithHint("The PKCE code verifier must be at least 43 characters."), form("code_verifier", "abc"), "code_verifier must be 43 to 128 characters long"},
		{"verifier long", fosite.ErrInvalidGrant.WithHint("The PKCE code verifier can not be longer than 128 characters."), nil, "code_verifier must be 43 to 128 characters long"},
		{"verifier characters", fosite.ErrInvalidGrant.WithHint("The PKCE code verifier must only contain [a-Z], [0-9], '-', '.', '_', '~'."), nil,
			"code_verifier may hold only letters, digits and the characters - . _ ~"},
		{"verifier without challenge", fosite.ErrInvalidGrant.WithHint("The PKCE code verifier was provided but the code challenge was absent from the authorization request."), nil,
			"code_verifier was sent, but the authorization request had no code_challenge"},
		{"no PKCE data", fosite.ErrInvalidGrant.WithHint("Unable to find initial PKCE data tied to this request"), nil, "code_verifier was sent, but the authorization request had no code_challenge"},
		{"plain refused", fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256, plain is not allowed."), nil, "code_challenge_method must be S256; plain is not allowed"},
		{"method unknown", fosite.ErrInvalidRequest.WithHint("The code_challenge_method is not supported, use S256 instead."), nil, "code_challenge_method is not supported; use S256"},
		{"PKCE required", fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing."), nil,
			"PKCE is required: send code_challenge and code_challenge_method=S256"},
		{"PKCE required for this client", fosite.ErrInvalidRequest.WithHint("This client must include a code_challenge when performing the authorize code flow, but it is missing."), nil,
			"PKCE is required: send code_challenge and code_challenge_method=S256"},
		{"code unknown", fosite.ErrInvalidGrant.WithWrap(fosite.ErrNotFound), form("grant_type", "authorization_code"), "the authorization code is invalid or has expired"},
		{"code expired", fosite.ErrInvalidGrant.WithWrap(fosite.ErrTokenExpired.WithHint("The authorization code expired.")), form("grant_type", "authorization_code"), "the authorization code has expired"},
		{"unknown hint", fosite.ErrInvalidRequest.WithHint("Something fosite says one day."), nil, "the request is malformed"},
		{"registration", fosite.ErrRegistrationNotSupported, nil, "the registration parameter is not supported"},
		{"server error", fosite.ErrServerError.WithWrap(errors.New("disk full")), nil, "the server could not complete the request"},
		{"tollgate's own", tollgateError(fosite.ErrAccessDenied, "the user denied the request"), nil, "the user denied the request"},
		{"unknown code name", &fosite.RFC6749Error{ErrorField: "odd", DescriptionField: fosite.ErrInvalidRequest.DescriptionField}, nil, "the request was refused"},
	} {
		if got := describe(tc.err, tc.form); got != tc.want {
			t.Errorf("%s: describe = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRewordedKeepsCodeAndStatus: the error fosite's writer gets keeps
// the code and status (and the cause, for errors.Is) and drops the hint
// and debug text, which fosite would append to the description.
func TestRewordedKeepsCodeAndStatus(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	in := fosite.ErrInvalidScope.WithHintf("The OAuth 2.0 Client is not allowed to request scope '%s'.", "caf\u00e9").WithDebug("debug text").WithWrap(cause)
	out := reworded(in, nil)
	if out.ErrorField != in.ErrorField || out.CodeField != in.CodeField {
		t.Errorf("reworded %s %d, want %s %d", out.ErrorField, out.CodeField, in.ErrorField, in.CodeField)
	}
	if got := out.GetDescription(); got != "scope 'caf??' is not allowed for this client" {
		t.Errorf("description %q: want tollgate's, within RFC 6749's characters", got)
	}
	if out.HintField != "" || out.DebugField != "" || !errors.Is(out, cause) {
		t.Errorf("reworded keeps hint %q, debug %q, cause %v", out.HintField, out.DebugField, errors.Is(out, cause))
	}
}

// TestFailureNamesTheCause: a server-side fosite error is logged with what
// caused it, not its bare code.
func TestFailureNamesTheCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *fosite.RFC6749Error
		want string
	}{
		{fosite.ErrServerError.WithWrap(errors.New("disk full")).WithDebug("disk full"), "server_error while handling the grant: disk full"},
		{fosite.ErrServerError.WithDebug("The PKCE handler must be loaded after the authorize code handler."), "server_error while handling the grant: The PKCE handler must"},
		{fosite.ErrServerError, "server_error while handling the grant (no cause given)"},
	} {
		ie, ok := protocolError(tc.err, nil).(*Internal)
		if !ok || !strings.Contains(ie.Error(), tc.want) {
			t.Errorf("protocolError(%v) = %v, want an Internal saying %q", tc.err, ie, tc.want)
		}
	}
}
