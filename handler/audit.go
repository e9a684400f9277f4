package handler

import (
	"context"
	"log/slog"
	"time"
)

// AuditEvent is one security-relevant action, as [Config.OnAudit] sees it
// and [Config.AuditLogger] records it: a record whose message is "audit"
// and whose attributes are event and, of the fields below, those set, under
// the keys in brackets. The slog record's time is Time. No field ever holds
// a secret or a token: a client id that matches no client may be anything
// the caller typed (a secret pasted into the wrong field, say), so it only
// appears as a short digest, and a user's subject only as the host's Login
// returned it.
//
//	event               level  when                                                        keys
//	token.issued        INFO   the token endpoint issued an access token (and perhaps a    client_id, grant_type, subject, scope,
//	                           refresh token)                                              jti, grant_id (not for client_credentials), ip
//	client.auth_failed  WARN   client credentials did not verify (token, revocation or      client_id or unknown_client_id_sha256,
//	                           introspection endpoint)                                     endpoint, reason (unknown_client, bad_credentials), ip
//	client.locked_out   WARN   that failure used up an allowance of                        client_id or unknown_client_id_sha256,
//	                           Config.RateLimits.FailedAuth: further attempts are          endpoint, reason (ip: the address's
//	                           refused until its window ends                               allowance; client: the client id's), ip
//	code.replayed       WARN   a used authorization code was presented again: its grant's  client_id, subject, grant_id, ip
//	                           tokens were revoked
//	refresh_token.reused WARN  a refresh token of an earlier generation was presented     client_id, subject, grant_id, ip
//	                           (or lost a race to rotate): its grant's tokens were revoked
//	token.revoked       INFO   the revocation endpoint revoked an access token (jti) or a  client_id, token_type, jti or grant_id,
//	                           refresh token and its whole grant (grant_id)                subject, ip
//	consent.granted     INFO   Config.Consent approved an authorization request            client_id, subject, scope, remembered, ip
//	consent.revoked     INFO   Server.RevokeConsent withdrew a user's consent to a client  client_id, subject
//	key.rotated         INFO   this instance stored a new signing key, published now and   kid, signs_from, reason (schedule, manual:
//	                           signing from signs_from                                     Server.RotateKeys)
//	key.retired         INFO   a signing key left the JWKS                                 kid, reason (schedule, manual: Server.RetireKey)
//
// ip is the client's address, as found behind [Config.TrustedProxies]. A
// client id is shown only for a registered client. The handler never
// writes clients (the host does, through its storage.ClientStore), so it
// cannot see who changed one: the host records client.added,
// client.changed and client.deleted itself, with [AuditEvent.Log].
// Instances sharing a KeyStore each record the retirements they make; of
// instances racing to store the same new key, only the one that stored it
// records key.rotated.
type AuditEvent struct {
	// Time is when it happened, on Config.Now.
	Time time.Time
	// Event is one of the Audit… constants.
	Event string

	ClientID              string    // [client_id] a registered client's
	UnknownClientIDSHA256 string    // [unknown_client_id_sha256] of an id that matches no client: its SHA-256's first 6 bytes, hex
	Subject               string    // [subject]
	GrantType             string    // [grant_type]
	Scope                 string    // [scope] space-separated, as granted
	JTI                   string    // [jti] an access token's id
	GrantID               string    // [grant_id] the grant (token family) id, as in the grant_id claim
	TokenType             string    // [token_type] access_token or refresh_token
	Endpoint              string    // [endpoint] token, revoke or introspect
	Reason                string    // [reason] see the table
	KeyID                 string    // [kid]
	SignsFrom             time.Time // [signs_from]
	Remembered            bool      // [remembered]
	IP                    string    // [ip]
}

// The events of AuditEvent.Event.
const (
	AuditTokenIssued      = "token.issued"
	AuditClientAuthFailed = "client.auth_failed"
	AuditClientLockedOut  = "client.locked_out"
	AuditCodeReplayed     = "code.replayed"
	AuditRefreshReused    = "refresh_token.reused"
	AuditTokenRevoked     = "token.revoked"
	AuditConsentGranted   = "consent.granted"
	AuditConsentRevoked   = "consent.revoked"
	AuditKeyRotated       = "key.rotated"
	AuditKeyRetired       = "key.retired"

	// The handler never writes clients, so it never emits these: the host
	// that adds, changes or deletes one does, with [AuditEvent.Log], so its
	// records share the schema above (client_id, reason: how, e.g. "cli").
	AuditClientAdded   = "client.added"
	AuditClientChanged = "client.changed"
	AuditClientDeleted = "client.deleted"
)

// Log writes ev to l as Config.AuditLogger's records are written, for
// events the host records itself (AuditClientAdded and its kin). A zero
// Time is now.
func (ev AuditEvent) Log(ctx context.Context, l *slog.Logger) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.record(ctx, l)
}

// auditLevel is the level an event is recorded at: WARN for what looks
// like an attack or a leaked token, INFO for the rest.
func auditLevel(event string) slog.Level {
	switch event {
	case AuditClientAuthFailed, AuditClientLockedOut, AuditCodeReplayed, AuditRefreshReused:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// record writes ev to l as its slog record: message "audit", the event,
// then every field set, in the order of the table.
func (ev *AuditEvent) record(ctx context.Context, l *slog.Logger) {
	level := auditLevel(ev.Event)
	if !l.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(ev.Time, level, "audit", 0)
	rec.AddAttrs(slog.String("event", ev.Event))
	for _, kv := range [...]struct{ k, v string }{
		{"client_id", ev.ClientID}, {"unknown_client_id_sha256", ev.UnknownClientIDSHA256},
		{"endpoint", ev.Endpoint}, {"grant_type", ev.GrantType}, {"subject", ev.Subject}, {"scope", ev.Scope},
		{"token_type", ev.TokenType}, {"jti", ev.JTI}, {"grant_id", ev.GrantID}, {"kid", ev.KeyID}, {"reason", ev.Reason},
	} {
		if kv.v != "" {
			rec.AddAttrs(slog.String(kv.k, kv.v))
		}
	}
	if !ev.SignsFrom.IsZero() {
		rec.AddAttrs(slog.Time("signs_from", ev.SignsFrom))
	}
	if ev.Event == AuditConsentGranted {
		rec.AddAttrs(slog.Bool("remembered", ev.Remembered))
	}
	if ev.IP != "" {
		rec.AddAttrs(slog.String("ip", ev.IP))
	}
	_ = l.Handler().Handle(ctx, rec)
}
