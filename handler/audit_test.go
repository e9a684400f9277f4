package handler_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

// Audit events (issue 11 §3) through real HTTP: each action's events,
// every field, as Config.OnAudit gets them; and the keys of the records
// Config.AuditLogger writes.

// obClaim reads a string claim of an access token.
func obClaim(t *testing.T, token, name string) string {
	t.Helper()
	_, claims := afJWT(t, token)
	s, _ := claims[name].(string)
	if s == "" {
		t.Fatalf("the token has no %s claim", name)
	}
	return s
}

func TestAuditEvents(t *testing.T) {
	const ip = "127.0.0.1"
	digest := func(id string) string { sum := sha256.Sum256([]byte(id)); return hex.EncodeToString(sum[:6]) }
	approve := func(_ http.ResponseWriter, _ *http.Request, req handler.ConsentRequest) (handler.ConsentDecision, bool) {
		return handler.ConsentDecision{Scopes: req.RequestedScopes, Remember: true}, true
	}
	cases := []struct {
		name   string
		mutate func(*afEnv, *handler.Config)
		run    func(t *testing.T, e *afEnv) []handler.AuditEvent
	}{
		{"client_credentials", nil, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			p := afTokens(t, "token", obCCToken(t, e))
			return []handler.AuditEvent{{Event: handler.AuditTokenIssued, ClientID: afResourceID, GrantType: obCC,
				Subject: afResourceID, Scope: "introspect", JTI: obClaim(t, p.access, "jti"), IP: ip}}
		}},
		{"code, replayed", nil, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			code, verifier := e.code(t, afWebID, afWebRedirect, nil)
			p := afTokens(t, "redeem", e.redeem(t, afWebID, code, verifier, afWebRedirect))
			afWantError(t, "replay", e.redeem(t, afWebID, code, verifier, afWebRedirect), http.StatusBadRequest, "invalid_grant", "")
			grant := obClaim(t, p.access, "grant_id")
			return []handler.AuditEvent{
				{Event: handler.AuditTokenIssued, ClientID: afWebID, GrantType: afCodeGrant, Subject: afUser,
					Scope: "orders:read profile", JTI: obClaim(t, p.access, "jti"), GrantID: grant, IP: ip},
				{Event: handler.AuditCodeReplayed, ClientID: afWebID, Subject: afUser, GrantID: grant, IP: ip},
			}
		}},
		{"refresh, reused", nil, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			first := e.pair(t, afWebID, nil)
			next := afTokens(t, "refresh", e.refresh(t, afWebID, first.refresh, nil))
			afWantError(t, "reuse", e.refresh(t, afWebID, first.refresh, nil), http.StatusBadRequest, "invalid_grant", "")
			grant := obClaim(t, first.access, "grant_id")
			return []handler.AuditEvent{
				{Event: handler.AuditTokenIssued, ClientID: afWebID, GrantType: afCodeGrant, Subject: afUser,
					Scope: "orders:read profile", JTI: obClaim(t, first.access, "jti"), GrantID: grant, IP: ip},
				{Event: handler.AuditTokenIssued, ClientID: afWebID, GrantType: afRefreshGrant, Subject: afUser,
					Scope: "orders:read profile", JTI: obClaim(t, next.access, "jti"), GrantID: grant, IP: ip},
				{Event: handler.AuditRefreshReused, ClientID: afWebID, Subject: afUser, GrantID: grant, IP: ip},
			}
		}},
		{"failures and lockout", func(_ *afEnv, c *handler.Config) { c.RateLimits.FailedAuth = "2-M" }, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			afWantError(t, "unknown client at introspection", e.post(t, handler.IntrospectPath, "", url.Values{
				"client_id": {"nobody"}, "client_secret": {"x"}, "token": {"t"}}), http.StatusUnauthorized, "invalid_client", "")
			afWantError(t, "wrong secret", obWrongSecret(t, e, afResourceID), http.StatusUnauthorized, "invalid_client", "")
			afWantError(t, "refused while locked out", obWrongSecret(t, e, afResourceID), http.StatusTooManyRequests, "temporarily_unavailable", "")
			failed := handler.AuditEvent{Event: handler.AuditClientAuthFailed, ClientID: afResourceID, Endpoint: "token", Reason: "bad_credentials", IP: ip}
			// The second failure used up the address's allowance (2) but
			// only half the client id's: one lockout.
			locked := failed
			locked.Event, locked.Reason = handler.AuditClientLockedOut, "ip"
			return []handler.AuditEvent{
				{Event: handler.AuditClientAuthFailed, UnknownClientIDSHA256: digest("nobody"), Endpoint: "introspect", Reason: "unknown_client", IP: ip},
				failed, locked,
			}
		}},
		{"revocations", nil, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			cc := afTokens(t, "token", obCCToken(t, e))
			p := e.pair(t, afWebID, nil)
			for _, r := range []struct{ client, token string }{{afResourceID, cc.access}, {afWebID, p.refresh}} {
				if res := e.revoke(t, r.client, r.token, ""); res.status != http.StatusOK {
					t.Fatalf("revoke: %s", res)
				}
			}
			return []handler.AuditEvent{
				{Event: handler.AuditTokenIssued, ClientID: afResourceID, GrantType: obCC, Subject: afResourceID,
					Scope: "introspect", JTI: obClaim(t, cc.access, "jti"), IP: ip},
				{Event: handler.AuditTokenIssued, ClientID: afWebID, GrantType: afCodeGrant, Subject: afUser, Scope: "orders:read profile",
					JTI: obClaim(t, p.access, "jti"), GrantID: obClaim(t, p.access, "grant_id"), IP: ip},
				{Event: handler.AuditTokenRevoked, ClientID: afResourceID, TokenType: "access_token", JTI: obClaim(t, cc.access, "jti"),
					Subject: afResourceID, IP: ip},
				{Event: handler.AuditTokenRevoked, ClientID: afWebID, TokenType: "refresh_token", GrantID: obClaim(t, p.access, "grant_id"),
					Subject: afUser, IP: ip},
			}
		}},
		{"consent", func(_ *afEnv, c *handler.Config) { c.Consent = approve }, func(t *testing.T, e *afEnv) []handler.AuditEvent {
			e.code(t, afWebID, afWebRedirect, nil)
			if err := e.srv.RevokeConsent(t.Context(), afUser, afWebID); err != nil {
				t.Fatal(err)
			}
			return []handler.AuditEvent{
				{Event: handler.AuditConsentGranted, ClientID: afWebID, Subject: afUser, Scope: "orders:read profile", Remembered: true, IP: ip},
				{Event: handler.AuditConsentRevoked, ClientID: afWebID, Subject: afUser},
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, sinks := obAF(t, tc.mutate)
			want := tc.run(t, env)
			for i := range want {
				want[i].Time = fixedNow // the af clock stands still
			}
			obWantEvents(t, sinks.auditEvents(), want)
		})
	}
}

func obWantEvents(t *testing.T, got, want []handler.AuditEvent) {
	t.Helper()
	if !slices.EqualFunc(got, want, func(a, b handler.AuditEvent) bool { return reflect.DeepEqual(a, b) }) {
		t.Errorf("audit events:\n got %+v\nwant %+v", got, want)
	}
}

// TestAuditLogRecord: the keys of an audit record, for those who parse
// the log rather than take the hook.
func TestAuditLogRecord(t *testing.T) {
	t.Parallel()
	env, sinks := obAF(t, func(_ *afEnv, c *handler.Config) { c.RateLimits.FailedAuth = "1-M" })
	p := afTokens(t, "token", obCCToken(t, env))
	afWantError(t, "wrong secret", obWrongSecret(t, env, afResourceID), http.StatusUnauthorized, "invalid_client", "")
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(sinks.auditLog.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit log line %q: %v", line, err)
		}
		records = append(records, rec)
	}
	when := fixedNow.Format(time.RFC3339)
	want := []map[string]any{
		{"time": when, "level": "INFO", "msg": "audit", "event": "token.issued", "client_id": afResourceID, "grant_type": obCC,
			"subject": afResourceID, "scope": "introspect", "jti": obClaim(t, p.access, "jti"), "ip": "127.0.0.1"},
		{"time": when, "level": "WARN", "msg": "audit", "event": "client.auth_failed", "client_id": afResourceID, "endpoint": "token",
			"reason": "bad_credentials", "ip": "127.0.0.1"},
		{"time": when, "level": "WARN", "msg": "audit", "event": "client.locked_out", "client_id": afResourceID, "endpoint": "token",
			"reason": "ip", "ip": "127.0.0.1"},
		{"time": when, "level": "WARN", "msg": "audit", "event": "client.locked_out", "client_id": afResourceID, "endpoint": "token",
			"reason": "client", "ip": "127.0.0.1"},
	}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("audit records:\n got %v\nwant %v", records, want)
	}
}

// TestAuditKeyEvents: keys rotated and retired, by the schedule and by
// hand.
func TestAuditKeyEvents(t *testing.T) {
	t.Parallel()
	clock := newKRClock(fixedNow)
	sinks := newObSinks(t)
	cfg := handler.Config{
		Issuer: "http://tollgate.test", Clients: testClients(t), KeyStore: memory.New(), Now: clock.now,
		KeyRotation: handler.KeyRotation{Every: krEvery, PublishAhead: krAhead, Algorithm: krAlg, RetireAfter: time.Hour},
		Logger:      slog.New(slog.DiscardHandler),
	}
	sinks.apply(t, &cfg)
	srv, err := handler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()

	a, err := srv.RotateKeys(ctx, time.Time{}) // signs from an hour from now
	if err != nil {
		t.Fatal(err)
	}
	// A day on, the next key is due (published an hour before it signs);
	// k1's successor a has signed for longer than RetireAfter.
	clock.add(krEvery)
	if err := handler.RefreshKeys(srv); err != nil {
		t.Fatal(err)
	}
	c, err := srv.RotateKeys(ctx, clock.now()) // signs now
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.RetireKey(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	day := fixedNow.Add(krEvery)
	next := fixedNow.Add(krAhead + krEvery)
	obWantEvents(t, sinks.auditEvents(), []handler.AuditEvent{
		{Time: fixedNow, Event: handler.AuditKeyRotated, KeyID: a.ID, SignsFrom: fixedNow.Add(krAhead), Reason: "manual"},
		{Time: day, Event: handler.AuditKeyRotated, KeyID: "k" + next.Format("20060102T150405Z"), SignsFrom: next, Reason: "schedule"},
		{Time: day, Event: handler.AuditKeyRetired, KeyID: "k1", Reason: "schedule"},
		{Time: day, Event: handler.AuditKeyRotated, KeyID: c.ID, SignsFrom: day, Reason: "manual"},
		{Time: day, Event: handler.AuditKeyRetired, KeyID: a.ID, Reason: "manual"},
	})
}

// AuditEvent.Log writes the host's own events (client changes) as the
// handler writes its: message "audit", the event, the fields set.
func TestAuditEventLogForTheHost(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	handler.AuditEvent{Event: handler.AuditClientDeleted, ClientID: "partner", Reason: "cli"}.
		Log(context.Background(), slog.New(slog.NewTextHandler(&buf, nil)))
	if got := buf.String(); !strings.Contains(got, "level=INFO msg=audit event=client.deleted client_id=partner reason=cli") || !strings.Contains(got, "time=") {
		t.Errorf("logged %q", got)
	}
}
