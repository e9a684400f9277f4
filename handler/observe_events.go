package handler

import (
	"context"
	"net/http"
	"time"

	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The observer's instrumentation points other than a request's answer
// (observe.go): each feeds the metrics and the audit events it concerns.

// clientAttrs names a client in an audit event: its id if registered,
// else a digest of the id sent (see logClientID).
func clientAttrs(ev *AuditEvent, client *storage.Client, id string) {
	if client != nil {
		ev.ClientID = client.ID
	} else if id != "" {
		ev.UnknownClientIDSHA256 = logClientID(nil, id).Value.String()
	}
}

// tokenIssued is the audit of a token response (the metrics count it as
// the request's outcome).
func (o *observer) tokenIssued(ctx context.Context, r *http.Request, client *storage.Client, grant string, resp *provider.Response) {
	if !o.auditing() {
		return
	}
	o.emit(ctx, AuditEvent{Event: AuditTokenIssued, ClientID: client.ID, GrantType: grant, Subject: resp.Subject,
		Scope: resp.Scope, JTI: resp.JTI, GrantID: resp.GrantID, IP: o.addr(r)})
}

// authFailed is a client authentication that did not verify; lockedOut
// lists the allowances that failure used up.
func (o *observer) authFailed(ctx context.Context, r *http.Request, ep endpoint, client *storage.Client, id string, lockedOut [numLockoutScopes]bool) {
	reason := authBadCredentials
	if client == nil {
		reason = authUnknownClient
	}
	if o.metrics != nil {
		o.metrics.authFailures[reason].Inc()
		for scope, yes := range lockedOut {
			if yes {
				o.metrics.lockouts[scope].Inc()
			}
		}
	}
	if !o.auditing() {
		return
	}
	ev := AuditEvent{Event: AuditClientAuthFailed, Endpoint: endpointNames[ep], Reason: authFailureNames[reason], IP: o.addr(r)}
	clientAttrs(&ev, client, id)
	o.emit(ctx, ev)
	for scope, yes := range lockedOut {
		if yes {
			ev.Event, ev.Reason = AuditClientLockedOut, lockoutScopeNames[scope]
			o.emit(ctx, ev)
		}
	}
}

// auditRequestKey carries the request of a token call in its context, for
// the audit of a replay found deep in the provider; set only when
// auditing.
type auditRequestKey struct{}

// replayed is a replayed code or reused refresh token (provider.OnReplay).
func (o *observer) replayed(ctx context.Context, rp provider.Replay) {
	kind, event := replayCode, AuditCodeReplayed
	if rp.Refresh {
		kind, event = replayRefresh, AuditRefreshReused
	}
	if o.metrics != nil {
		o.metrics.replays[kind].Inc()
	}
	if !o.auditing() {
		return
	}
	ev := AuditEvent{Event: event, ClientID: rp.ClientID, Subject: rp.Subject, GrantID: rp.GrantID}
	if r, ok := ctx.Value(auditRequestKey{}).(*http.Request); ok {
		ev.IP = o.addr(r)
	}
	o.emit(ctx, ev)
}

// revoked is a revocation at the revocation endpoint.
func (o *observer) revoked(ctx context.Context, r *http.Request, client *storage.Client, rv provider.Revoked) {
	if rv.TokenType == "" {
		return // nothing was revoked
	}
	kind := revokedAccess
	if rv.GrantID != "" {
		kind = revokedRefresh
	}
	if o.metrics != nil {
		o.metrics.revocations[kind].Inc()
	}
	if o.auditing() {
		o.emit(ctx, AuditEvent{Event: AuditTokenRevoked, ClientID: client.ID, TokenType: rv.TokenType,
			JTI: rv.JTI, GrantID: rv.GrantID, Subject: rv.Subject, IP: o.addr(r)})
	}
}

// consentGranted is Config.Consent's approval.
func (o *observer) consentGranted(ctx context.Context, r *http.Request, subject, clientID, scope string, remembered bool) {
	if o.auditing() {
		o.emit(ctx, AuditEvent{Event: AuditConsentGranted, ClientID: clientID, Subject: subject, Scope: scope,
			Remembered: remembered, IP: o.addr(r)})
	}
}

// consentRevoked is Server.RevokeConsent done.
func (o *observer) consentRevoked(ctx context.Context, subject, clientID string) {
	if o.metrics != nil {
		o.metrics.revocations[revokedConsent].Inc()
	}
	if o.auditing() {
		o.emit(ctx, AuditEvent{Event: AuditConsentRevoked, ClientID: clientID, Subject: subject})
	}
}

// keyEvent is a signing key stored (key.rotated) or retired, by the
// schedule or by hand.
func (o *observer) keyEvent(ctx context.Context, event, kid string, signsFrom time.Time, manual bool) {
	if !o.auditing() {
		return
	}
	reason := "schedule"
	if manual {
		reason = "manual"
	}
	o.emit(ctx, AuditEvent{Event: event, KeyID: kid, SignsFrom: signsFrom, Reason: reason})
}

// cacheLookup counts a client cache lookup; nil when metrics are off, so
// the cache does not even call it.
func (o *observer) cacheLookup() func(hit bool) {
	if o.metrics == nil {
		return nil
	}
	miss, hit := o.metrics.cache[0], o.metrics.cache[1]
	return func(h bool) {
		if h {
			hit.Inc()
		} else {
			miss.Inc()
		}
	}
}

// addr is the client's address for an audit event; "" if unknown.
func (o *observer) addr(r *http.Request) string {
	if a := o.ips.Addr(r); a.IsValid() {
		return a.String()
	}
	return ""
}
