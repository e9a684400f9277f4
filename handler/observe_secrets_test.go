package handler_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tollgate-oauth/tollgate/handler"
)

// No secret or token reaches a span or an audit event (issue 11 §2, §3):
// every endpoint runs with tracing and audit on, with client secrets
// (generated, human-chosen, sent by Basic and in the body, wrong ones),
// codes, PKCE verifiers, access and refresh tokens, a password for an
// extension grant, an internal error whose text holds a database
// password, and secrets pasted into client_id, grant_type and scope; then
// no recorded span name, attribute, event or status, no audit event and
// no audit log line holds any of them.

// obEverything runs every endpoint with every kind of secret and returns
// the secrets, and the audit events it must have caused, in order.
func obEverything(t *testing.T, e *afEnv) (secrets, events []string) {
	t.Helper()
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatal("a secret of the flow is empty")
			}
			secrets = append(secrets, v)
			if _, sig, ok := strings.Cut(v, "."); ok && strings.Count(v, ".") == 2 {
				// A JWT's signature alone is as good as a secret to hide.
				secrets = append(secrets, sig[strings.IndexByte(sig, '.')+1:])
			}
		}
	}
	keep(e.secret, integrationSecret, "hunter2")
	tok := func(what string, res afHTTP) afPair {
		t.Helper()
		p := afTokens(t, what, res)
		keep(p.access)
		if p.refresh != "" {
			keep(p.refresh)
		}
		events = append(events, handler.AuditTokenIssued)
		return p
	}

	// Client credentials: a generated secret by Basic and in the body, a
	// human-chosen one by Basic.
	cc := url.Values{"grant_type": {obCC}}
	resource := tok("Basic", e.post(t, handler.TokenPath, afResourceID, cc))
	post := afClone(cc)
	post.Set("client_id", afResourceID)
	post.Set("client_secret", e.secret)
	tok("client_secret_post", e.post(t, handler.TokenPath, "", post))
	tok("argon2id secret", e.post(t, handler.TokenPath, integrationID, cc))

	// Secrets where they do not belong.
	const wrong, pastedID, pastedGrant, pastedScope = "tgs_a-guessed-secret-x", "tgs_secret-pasted-in-client-id",
		"tgs_secret-pasted-in-grant-type", "tgs_secret-pasted-in-scope"
	keep(wrong, pastedID, pastedGrant, pastedScope)
	afWantError(t, "wrong secret", obWrongSecretValue(t, e, afResourceID, wrong), http.StatusUnauthorized, "invalid_client", "")
	afWantError(t, "secret as client_id", obWrongSecretValue(t, e, pastedID, wrong), http.StatusUnauthorized, "invalid_client", "")
	events = append(events, handler.AuditClientAuthFailed, handler.AuditClientAuthFailed)
	afWantError(t, "secret as grant_type", e.post(t, handler.TokenPath, afResourceID, url.Values{"grant_type": {pastedGrant}}),
		http.StatusBadRequest, "unsupported_grant_type", "")
	afWantError(t, "secret as scope", e.post(t, handler.TokenPath, afResourceID, url.Values{"grant_type": {obCC}, "scope": {pastedScope}}),
		http.StatusBadRequest, "invalid_scope", "")

	// The code flow: a confidential and a public client, a replayed code,
	// a rotation and a reused refresh token.
	code, verifier := e.code(t, afWebID, afWebRedirect, nil)
	keep(code, verifier)
	events = append(events, handler.AuditConsentGranted)
	web := tok("redeem", e.redeem(t, afWebID, code, verifier, afWebRedirect))
	afWantError(t, "replayed code", e.redeem(t, afWebID, code, verifier, afWebRedirect), http.StatusBadRequest, "invalid_grant", "")
	events = append(events, handler.AuditCodeReplayed)
	code, verifier = e.code(t, afSPAID, afSPARedirect, nil)
	keep(code, verifier)
	events = append(events, handler.AuditConsentGranted)
	spa := tok("public client", e.redeem(t, afSPAID, code, verifier, afSPARedirect))
	tok("refresh", e.refresh(t, afSPAID, spa.refresh, nil))
	afWantError(t, "reused refresh token", e.refresh(t, afSPAID, spa.refresh, nil), http.StatusBadRequest, "invalid_grant", "")
	events = append(events, handler.AuditRefreshReused)

	// An extension grant with a password, and one that fails with a
	// password in its error's text.
	tok("extension grant", e.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"bob"}, "password": {"hunter2"}}))
	afWantError(t, "failing extension grant", e.post(t, handler.TokenPath, afTrustedID, url.Values{"grant_type": {afUserGrant}, "user_id": {"explode"}}),
		http.StatusInternalServerError, "server_error", "")

	// Introspection, revocation, the feed and the public documents.
	for _, token := range []string{resource.access, web.access, web.refresh, pastedScope} {
		if res := e.introspect(t, afResourceID, token, ""); res.status != http.StatusOK {
			t.Errorf("introspect: %s", res)
		}
	}
	for _, token := range []string{resource.access, web.refresh} {
		if res := e.revoke(t, afWebID, token, ""); res.status != http.StatusOK && res.status != http.StatusBadRequest {
			t.Errorf("revoke: %s", res)
		}
	}
	if res := e.revoke(t, afResourceID, resource.access, "access_token"); res.status != http.StatusOK {
		t.Errorf("revoke: %s", res)
	}
	events = append(events, handler.AuditTokenRevoked, handler.AuditTokenRevoked)
	for _, path := range []string{handler.RevocationsPath, handler.JWKSPath, handler.MetadataPath} {
		if res := afDo(t, obGet(t, e.ts.URL+path)); res.status != http.StatusOK {
			t.Errorf("GET %s: %s", path, res)
		}
	}
	if err := e.srv.RevokeConsent(t.Context(), afUser, afWebID); err != nil {
		t.Fatal(err)
	}
	events = append(events, handler.AuditConsentRevoked)
	return secrets, events
}

// obWrongSecretValue is a client_credentials request of client with
// secret sent by Basic.
func obWrongSecretValue(t *testing.T, e *afEnv, client, secret string) afHTTP {
	t.Helper()
	req := e.postRequest(handler.TokenPath, "", url.Values{"grant_type": {obCC}})
	req.SetBasicAuth(client, secret)
	return afDo(t, req)
}

// obSpanText is everything a span records, as text.
func obSpanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s status=%s %q", s.Name(), s.Status().Code, s.Status().Description)
	for _, kv := range s.Attributes() {
		fmt.Fprintf(&b, " %s=%q", kv.Key, kv.Value.Emit())
	}
	for _, ev := range s.Events() {
		fmt.Fprintf(&b, " event %s", ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Fprintf(&b, " %s=%q", kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

func TestObservabilityHoldsNoSecret(t *testing.T) {
	t.Parallel()
	env, sinks := obAF(t, func(_ *afEnv, c *handler.Config) {
		c.Grants = []handler.Grant{afUserGrantDef(nil)}
		c.Consent = func(_ http.ResponseWriter, _ *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
			return handler.ConsentDecision{Scopes: req.RequestedScopes, Remember: true}, true
		}
	})
	secrets, wantEvents := obEverything(t, env)

	spans := sinks.spans.Ended()
	names := map[string]int{}
	for _, s := range spans {
		names[s.Name()]++
		text := obSpanText(s)
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("span holds a secret (%.12s…): %s", secret, text)
			}
		}
		if strings.HasPrefix(s.Name(), "Fosite") {
			t.Errorf("fosite's span %s is in tollgate's trace", s.Name())
		}
	}
	// The check above only means something if the spans were recorded.
	for _, n := range []string{"tollgate.token", "tollgate.token.limit_ip", "tollgate.token.parse", "tollgate.token.authenticate",
		"tollgate.token.limit_client", "tollgate.token.issue", "tollgate.token.policy", "tollgate.token.mint", "tollgate.token.sign",
		"tollgate.token.respond", "tollgate.authorize", "tollgate.revoke", "tollgate.revoke.authenticate", "tollgate.introspect",
		"tollgate.introspect.parse", "tollgate.revocations",
		"tollgate.jwks", "tollgate.metadata", "tollgate.consent.revoke", "tollgate.store.get_client", "tollgate.store.create_code",
		"tollgate.store.get_code", "tollgate.store.use_code", "tollgate.store.create_family", "tollgate.store.get_family",
		"tollgate.store.advance_family", "tollgate.store.revoke_family", "tollgate.store.revoke_access_token",
		"tollgate.store.access_token_revoked", "tollgate.store.revocations", "tollgate.store.get_consent",
		"tollgate.store.save_consent", "tollgate.store.delete_consent", "tollgate.store.revoke_families_of"} {
		if names[n] == 0 {
			t.Errorf("no %s span was recorded", n)
		}
	}

	var got []string
	for _, ev := range sinks.auditEvents() {
		got = append(got, ev.Event)
		text := fmt.Sprintf("%+v", ev)
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("audit event holds a secret (%.12s…): %s", secret, text)
			}
		}
	}
	if !slices.Equal(got, wantEvents) {
		t.Errorf("audit events:\n got %v\nwant %v", got, wantEvents)
	}
	log := sinks.auditLog.String()
	if n := strings.Count(log, `"msg":"audit"`); n != len(wantEvents) {
		t.Errorf("the audit log has %d records, want %d:\n%s", n, len(wantEvents), log)
	}
	for _, secret := range secrets {
		if strings.Contains(log, secret) {
			t.Errorf("the audit log holds a secret (%.12s…)", secret)
		}
	}
}
