package handler

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// Metrics are the token server's Prometheus collectors, registered on the
// host's own registry by [NewMetrics] and handed to [Config.Metrics]. One
// Metrics may serve several Servers: they then add to the same series.
//
// Every label value comes from a fixed set, so no request can make a new
// series: grant_type is a grant type the Server serves (the built-in ones
// and [Config.Grants]), "other" for any other value sent, or "none" when
// there is none (a request refused before its grant type was read, and
// every endpoint but the token endpoint). No label names a client.
//
//	name                                            type       labels                   meaning
//	tollgate_handler_requests_total                 counter    endpoint, grant_type,    requests answered, by how (below)
//	                                                           outcome
//	tollgate_handler_request_duration_seconds       histogram  endpoint, grant_type     time to answer, from the request to the last byte handed to net/http
//	tollgate_handler_client_auth_failures_total     counter    reason                   client credentials that did not verify: unknown_client, bad_credentials
//	tollgate_handler_lockouts_total                 counter    scope                    failures that used up an allowance of Config.RateLimits.FailedAuth: ip (an address), client (a client id)
//	tollgate_handler_storage_errors_total           counter    operation                store calls that failed (not "not found", "already used" or "already exists", which are answers)
//	tollgate_handler_replays_total                  counter    token_type               authorization_code replayed, refresh_token reused: the grant's tokens were revoked
//	tollgate_handler_revocations_total              counter    token_type               revoked at the revocation endpoint (access_token, refresh_token) or by Server.RevokeConsent (consent)
//	tollgate_handler_client_cache_lookups_total     counter    result                   client lookups answered from memory (hit) or from Config.Clients (miss); see Config.ClientStaleness
//
// endpoint is token, authorize, revoke, introspect, revocations, jwks or
// metadata. outcome is issued (a token, or at the authorization endpoint a
// code), ok (any other endpoint answered), login or consent (the
// authorization endpoint handed the request to Config.Login or
// Config.Consent, which answered it), the OAuth error code answered
// (invalid_request, invalid_client, invalid_grant, unauthorized_client,
// unsupported_grant_type, unsupported_response_type, invalid_scope,
// invalid_target, access_denied), method_not_allowed, rate_limited (429:
// the request rate or a lockout), unavailable (503: storage, the rate
// limiter's store or a busy secret check), server_error (500), or
// other_error (an error code outside this list, which an extension grant
// may return). operation is the store method, in snake case: get_client,
// clients_version, list_clients, create_code, get_code, use_code,
// create_family, get_family, advance_family, revoke_families_of,
// revoke_access_token, revoke_family, access_token_revoked, revocations,
// delete_expired, legacy_refresh_family, add_signing_key, signing_keys,
// retire_signing_key, get_consent, save_consent, delete_consent,
// list_consents.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures [numAuthFailures]prometheus.Counter
	lockouts     [numLockoutScopes]prometheus.Counter
	storeErrors  [numStoreOps]prometheus.Counter
	replays      [numReplayKinds]prometheus.Counter
	revocations  [numRevocationKinds]prometheus.Counter
	cache        [2]prometheus.Counter // miss, hit
}

// durationBuckets span a client_credentials request from memory (well
// under a millisecond beside its signature) to one that waits on a slow
// hash or a database (tens to hundreds of milliseconds).
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// NewMetrics makes the token server's collectors and registers them on
// reg: pass the host's registry (prometheus.NewRegistry()), or
// prometheus.DefaultRegisterer to use the global one. It fails if reg is
// nil or refuses a collector (a second NewMetrics on the same registry).
// The counters with small fixed label sets start at zero, so that a rate
// of them is defined before the first event.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("handler: NewMetrics needs a prometheus.Registerer")
	}
	const ns, sub = "tollgate", "handler"
	counter := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, []string{label})
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "requests_total",
			Help: "Requests answered, by endpoint, grant type and outcome."}, []string{"endpoint", "grant_type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help: "Time to answer a request, by endpoint and grant type.", Buckets: durationBuckets}, []string{"endpoint", "grant_type"}),
	}
	vecs := []prometheus.Collector{m.requests, m.duration}
	bind := func(vec *prometheus.CounterVec, out []prometheus.Counter, values []string) {
		vecs = append(vecs, vec)
		for i, v := range values {
			out[i] = vec.WithLabelValues(v)
		}
	}
	bind(counter("client_auth_failures_total", "Client credentials that did not verify, by reason.", "reason"),
		m.authFailures[:], authFailureNames[:])
	bind(counter("lockouts_total", "Failed client authentications that used up an address's or a client id's allowance.", "scope"),
		m.lockouts[:], lockoutScopeNames[:])
	bind(counter("storage_errors_total", "Store calls that failed, by operation.", "operation"),
		m.storeErrors[:], storeOpNames[:])
	bind(counter("replays_total", "Authorization codes replayed and refresh tokens reused; each revoked its grant.", "token_type"),
		m.replays[:], replayKindNames[:])
	bind(counter("revocations_total", "Revocations, at the revocation endpoint or by Server.RevokeConsent.", "token_type"),
		m.revocations[:], revocationKindNames[:])
	bind(counter("client_cache_lookups_total", "Client lookups, answered from memory (hit) or from the store (miss).", "result"),
		m.cache[:], []string{"miss", "hit"})
	for _, c := range vecs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("handler: registering the metrics: %w", err)
		}
	}
	return m, nil
}

// endpoint names an endpoint in metrics and spans.
type endpoint uint8

const (
	epToken endpoint = iota
	epAuthorize
	epRevoke
	epIntrospect
	epRevocations
	epJWKS
	epMetadata
	numEndpoints
)

var endpointNames = [numEndpoints]string{"token", "authorize", "revoke", "introspect", "revocations", "jwks", "metadata"}

// endpointSpans are the endpoints' span names, made once.
var endpointSpans = func() (out [numEndpoints]string) {
	for i, n := range endpointNames {
		out[i] = "tollgate." + n
	}
	return out
}()

// outcome is how a request was answered (see Metrics).
type outcome uint8

// The zero outcome is ok: an endpoint that answered says nothing more.
const (
	outOK outcome = iota
	outIssued
	outLogin
	outConsent
	outInvalidRequest
	outInvalidClient
	outInvalidGrant
	outUnauthorizedClient
	outUnsupportedGrantType
	outUnsupportedResponseType
	outInvalidScope
	outInvalidTarget
	outAccessDenied
	outMethodNotAllowed
	outRateLimited
	outUnavailable
	outServerError
	outOtherError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"ok", "issued", "login", "consent",
	oautherr.CodeInvalidRequest, oautherr.CodeInvalidClient, oautherr.CodeInvalidGrant, oautherr.CodeUnauthorizedClient,
	oautherr.CodeUnsupportedGrantType, "unsupported_response_type", oautherr.CodeInvalidScope, oautherr.CodeInvalidTarget,
	"access_denied", "method_not_allowed", "rate_limited", "unavailable", oautherr.CodeServerError, "other_error",
}

// classify names an error answer by its status first (the statuses that
// say more than their code: 405, 429, 503, other 5xx), else by its code,
// which may be anything an extension grant chose: outside the fixed set
// it is other_error.
func classify(status int, code string) outcome {
	switch {
	case status == http.StatusMethodNotAllowed:
		return outMethodNotAllowed
	case status == http.StatusTooManyRequests:
		return outRateLimited
	case status == http.StatusServiceUnavailable:
		return outUnavailable
	case status >= 500:
		return outServerError
	}
	for o := outInvalidRequest; o <= outAccessDenied; o++ {
		if outcomeNames[o] == code {
			return o
		}
	}
	return outOtherError
}

// Reasons a client authentication fails.
const (
	authUnknownClient = iota
	authBadCredentials
	numAuthFailures
)

var authFailureNames = [numAuthFailures]string{"unknown_client", "bad_credentials"}

// The allowances of Config.RateLimits.FailedAuth.
const (
	lockoutIP = iota
	lockoutClient
	numLockoutScopes
)

var lockoutScopeNames = [numLockoutScopes]string{"ip", "client"}

// What was replayed.
const (
	replayCode = iota
	replayRefresh
	numReplayKinds
)

var replayKindNames = [numReplayKinds]string{"authorization_code", "refresh_token"}

// What was revoked.
const (
	revokedAccess = iota
	revokedRefresh
	revokedConsent
	numRevocationKinds
)

var revocationKindNames = [numRevocationKinds]string{"access_token", "refresh_token", "consent"}
