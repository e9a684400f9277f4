package provider

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/ory/fosite"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// fosite describes an error with its stock sentence for the error code
// ("The request is missing a required parameter, includes an invalid
// parameter value, includes a parameter more than once, or is otherwise
// malformed.") followed by a hint in its own voice ("The OAuth 2.0
// Client is not allowed to request scope 'admin'.", "Request parameter
// 'state' must be at least be 8 characters long…"). Next to tollgate's
// one-clause descriptions that reads as another product, and some of it
// is wrong for tollgate (it names OpenID Connect, which tollgate does not
// offer). describe says each hint tollgate can meet again in tollgate's
// words; the error code and status stay fosite's.

// rewording is one hint of fosite's and tollgate's wording of it.
type rewording struct {
	hint *regexp.Regexp // fosite's HintField; a group is client input
	// say returns the description; m is the hint's match, form the
	// request's parameters.
	say func(m []string, form url.Values) string
}

// q matches a value fosite quotes: WithHintf puts client input between
// single or double quotes.
const q = `["'](.*)["']`

func fixed(s string) func([]string, url.Values) string {
	return func([]string, url.Values) string { return s }
}

func quoted(format string) func([]string, url.Values) string {
	return func(m []string, _ url.Values) string { return fmt.Sprintf(format, oautherr.Quote(m[1])) }
}

// rewordings are the hints of the fosite code tollgate runs: the
// authorization request (authorize_request_handler.go, authorize_helper.go,
// audience_strategy.go), the code flow and PKCE (handler/oauth2,
// handler/pkce). Client authentication, refresh tokens, client_credentials
// and introspection are tollgate's own and never reach fosite's wording.
var rewordings = []rewording{
	// The authorization request.
	{regexp.MustCompile(`^The requested OAuth 2\.0 Client does not exist\.$`), func(_ []string, form url.Values) string {
		if form.Get("client_id") == "" {
			return "the client_id parameter is missing"
		}
		return "client_id " + oautherr.Quote(form.Get("client_id")) + " is not a registered client"
	}},
	{regexp.MustCompile(`^The 'redirect_uri' parameter does not match any of the OAuth 2\.0 Client's pre-registered redirect urls\.$`), func(_ []string, form url.Values) string {
		if form.Get("redirect_uri") == "" {
			return "the redirect_uri parameter is missing; it may be left out only by a client that registered exactly one"
		}
		return "redirect_uri " + oautherr.Quote(form.Get("redirect_uri")) + " is not one this client registered (it must match exactly)"
	}},
	{regexp.MustCompile(`^The redirect URI ` + q + ` contains an illegal character`), quoted("redirect_uri %s is not an absolute URI without a fragment")},
	{regexp.MustCompile(`^The 'redirect_uri' parameter is required when using OpenID Connect`), fixed("the redirect_uri parameter is missing")},
	{regexp.MustCompile(`^The OAuth 2\.0 Client is not allowed to request scope ` + q + `\.$`), quoted("scope %s is not allowed for this client")},
	{regexp.MustCompile(`^Requested audience ` + q + ` has not been whitelisted by the OAuth 2\.0 Client\.$`), quoted("audience %s is not allowed for this client")},
	{regexp.MustCompile(`^Unable to parse requested audience ` + q + `\.$`), quoted("audience %s is not a valid URI")},
	{regexp.MustCompile("^`?The request is missing the 'response_type' parameter\\.$"), fixed("the response_type parameter is missing")},
	{regexp.MustCompile(`^The client is not allowed to request response_type ` + q + `\.$`), quoted("response_type %s is not supported; use code")},
	{regexp.MustCompile(`^Request with unsupported response_mode ` + q + `\.$`), quoted("response_mode %s is not supported; use query, or leave it out")},
	{regexp.MustCompile(`^The request has response_mode ` + q + `\. set but`), quoted("response_mode %s is not supported; use query, or leave it out")},
	{regexp.MustCompile(`^The client is not allowed to request response_mode ` + q + `\.$`), quoted("response_mode %s is not supported; use query, or leave it out")},
	{regexp.MustCompile(`^Insecure response_mode`), fixed("this response_mode is not supported; use query, or leave it out")},
	{regexp.MustCompile(`^Request parameter 'state' must be at least be (\d+) characters long`), func(m []string, form url.Values) string {
		if form.Get("state") == "" {
			return "the state parameter is missing; send at least " + m[1] + " random characters"
		}
		return "state must be at least " + m[1] + " characters long, so that it cannot be guessed"
	}},
	{regexp.MustCompile(`^OpenID Connect parameters 'request' and 'request_uri' were both given`), fixed("request objects (request, request_uri) are not supported")},
	{regexp.MustCompile(`^OpenID Connect 'request_uri' context was given`), fixed("request_uri is not supported; send the parameters in the query")},
	{regexp.MustCompile(`^OpenID Connect 'request' context was given`), fixed("request objects are not supported; send the parameters in the query")},
	{regexp.MustCompile(`^OpenID Connect 'request' or 'request_uri' context was given`), fixed("request objects (request, request_uri) are not supported")},
	{regexp.MustCompile(`^Unable to parse HTTP body`), fixed("the request body is not a valid form")},
	{regexp.MustCompile(`^Redirect URL is using an insecure protocol`), fixed("redirect_uri must use https (http only to localhost)")},

	// The code exchange (RFC 6749 §4.1.3) and PKCE (RFC 7636 §4.6).
	{regexp.MustCompile(`^The OAuth 2\.0 Client is not allowed to use authorization grant ["']authorization_code["']\.$`), fixed("this client may not use grant_type 'authorization_code'")},
	{regexp.MustCompile(`^The authorization code has already been used\.`), fixed("the authorization code was already used")},
	{regexp.MustCompile(`^The OAuth 2\.0 Client ID from this request does not match the one from the authorize request\.$`), fixed("the authorization code was issued to another client")},
	{regexp.MustCompile(`^The ["']redirect_uri["'] from this request does not match the one from the authorize request\.$`), func(_ []string, form url.Values) string {
		if form.Get("redirect_uri") == "" {
			return "the redirect_uri parameter is missing; send the one of the authorization request"
		}
		return "redirect_uri is not the one of the authorization request"
	}},
	{regexp.MustCompile(`^The PKCE code challenge did not match the code verifier\.$`), fixed("code_verifier does not match the code_challenge of the authorization request")},
	{regexp.MustCompile(`^The PKCE code verifier must be at least (\d+) characters\.$`), func(m []string, form url.Values) string {
		if form.Get("code_verifier") == "" {
			return "the code_verifier parameter is missing (PKCE)"
		}
		return "code_verifier must be 43 to 128 characters long"
	}},
	{regexp.MustCompile(`^The PKCE code verifier can not be longer than (\d+) characters\.$`), fixed("code_verifier must be 43 to 128 characters long")},
	{regexp.MustCompile(`^The PKCE code verifier must only contain`), fixed("code_verifier may hold only letters, digits and the characters - . _ ~")},
	{regexp.MustCompile(`^The PKCE code verifier was provided but the code challenge was absent`), fixed("code_verifier was sent, but the authorization request had no code_challenge")},
	{regexp.MustCompile(`^Unable to find initial PKCE data tied to this request`), fixed("code_verifier was sent, but the authorization request had no code_challenge")},
	{regexp.MustCompile(`^Clients must use code_challenge_method=S256, plain is not allowed\.$`), fixed("code_challenge_method must be S256; plain is not allowed")},
	{regexp.MustCompile(`^The code_challenge_method is not supported, use S256 instead\.$`), fixed("code_challenge_method is not supported; use S256")},
	{regexp.MustCompile(`^(Clients|This client) must include a code_challenge`), fixed("PKCE is required: send code_challenge and code_challenge_method=S256")},
}

// plain is what an error code means, for an error whose hint is not in
// rewordings (or that has none).
var plain = map[string]string{
	oautherr.CodeInvalidRequest:         "the request is malformed",
	oautherr.CodeInvalidClient:          "client authentication failed",
	oautherr.CodeInvalidGrant:           "the grant is invalid, expired or revoked",
	oautherr.CodeUnauthorizedClient:     "this client may not use this grant",
	oautherr.CodeUnsupportedGrantType:   "this grant type is not supported",
	oautherr.CodeInvalidScope:           "the requested scope is not allowed",
	oautherr.CodeServerError:            oautherr.ServerError().Description,
	oautherr.CodeTemporarilyUnavailable: "the authorization server is unavailable; retry later",
	"access_denied":                     "the request was denied",
	"unsupported_response_type":         "only response_type code is supported",
	"unsupported_response_mode":         "only response_mode query is supported",
	"invalid_state":                     "the state parameter is missing or too short",
	"registration_not_supported":        "the registration parameter is not supported",
	"request_not_supported":             "request objects are not supported; send the parameters in the query",
	"request_uri_not_supported":         "request_uri is not supported; send the parameters in the query",
	"invalid_request_uri":               "request_uri is not supported; send the parameters in the query",
	"invalid_request_object":            "request objects are not supported; send the parameters in the query",
}

// stock holds the descriptions fosite's errors start from: an error with
// one of them is fosite's, to be reworded; any other description is
// tollgate's own (toFosite, tollgateError) and is kept.
var stock = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range []*fosite.RFC6749Error{
		fosite.ErrInvalidRequest, fosite.ErrUnauthorizedClient, fosite.ErrAccessDenied, fosite.ErrUnsupportedResponseType,
		fosite.ErrUnsupportedResponseMode, fosite.ErrInvalidScope, fosite.ErrServerError, fosite.ErrTemporarilyUnavailable,
		fosite.ErrUnsupportedGrantType, fosite.ErrInvalidGrant, fosite.ErrInvalidClient, fosite.ErrInvalidState,
		fosite.ErrMisconfiguration, fosite.ErrInsufficientEntropy, fosite.ErrNotFound, fosite.ErrRequestUnauthorized,
		fosite.ErrTokenSignatureMismatch, fosite.ErrInvalidTokenFormat, fosite.ErrTokenExpired, fosite.ErrScopeNotGranted,
		fosite.ErrTokenClaim, fosite.ErrInactiveToken, fosite.ErrLoginRequired, fosite.ErrInteractionRequired,
		fosite.ErrConsentRequired, fosite.ErrRequestNotSupported, fosite.ErrRequestURINotSupported,
		fosite.ErrRegistrationNotSupported, fosite.ErrInvalidRequestURI, fosite.ErrInvalidRequestObject,
		fosite.ErrJTIKnown, fosite.ErrUnknownRequest, fosite.ErrRequestForbidden, fosite.ErrSerializationFailure,
	} {
		m[e.DescriptionField] = true
	}
	return m
}()

// describe is the error_description tollgate gives for fe, raised while
// handling a request with parameters form.
func describe(fe *fosite.RFC6749Error, form url.Values) string {
	if !stock[fe.DescriptionField] {
		return fe.DescriptionField // tollgate's own, carried through fosite
	}
	for _, r := range rewordings {
		if m := r.hint.FindStringSubmatch(fe.HintField); m != nil {
			return r.say(m, form)
		}
	}
	if fe.ErrorField == oautherr.CodeInvalidGrant && form.Get("grant_type") == "authorization_code" {
		// No hint: fosite found no such code, or tollgate's strategy
		// refused it (strategy.go says why in the cause).
		if errors.Is(fe, fosite.ErrTokenExpired) {
			return "the authorization code has expired"
		}
		return "the authorization code is invalid or has expired"
	}
	if d, ok := plain[fe.ErrorField]; ok {
		return d
	}
	return "the request was refused"
}

// reworded is fe with tollgate's description and nothing else of
// fosite's wording (no hint, no debug text): what fosite's authorization
// error writer is handed.
func reworded(fe *fosite.RFC6749Error, form url.Values) *fosite.RFC6749Error {
	// fosite writes it as it is: Sanitize keeps the quoted client input
	// within RFC 6749 §5.2's characters, as oautherr.Write does.
	out := &fosite.RFC6749Error{ErrorField: fe.ErrorField, CodeField: fe.CodeField, DescriptionField: oautherr.Sanitize(describe(fe, form))}
	out.Wrap(fe.Cause())
	return out
}

// tollgateError is a fosite error of base's code and status with a
// description of tollgate's, for answers tollgate decides but fosite
// writes (the authorization endpoint's).
func tollgateError(base *fosite.RFC6749Error, description string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: base.ErrorField, CodeField: base.CodeField, DescriptionField: description}
}
