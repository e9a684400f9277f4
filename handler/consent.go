package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/tollgate-oauth/tollgate/internal/provider"
	"github.com/tollgate-oauth/tollgate/internal/scope"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The consent step of the authorization endpoint (RFC 9700 §4.1; RFC 8252
// §8.6): after Config.Login names the user, Config.Consent asks them to
// approve the client, or finds an approval remembered in Config.Consents.

// ConsentFunc asks the user to approve an authorization request. It sees
// the request r, the user and the client, and what the client would be
// granted. If it can decide now (the user's answer came back, or a
// remembered consent covers the request) it returns the decision and
// true. Otherwise it answers r itself, typically with a consent page whose
// answer brings the browser back to the authorization request
// (r.RequestURI, as for LoginFunc), and returns false.
type ConsentFunc func(w http.ResponseWriter, r *http.Request, req ConsentRequest) (ConsentDecision, bool)

// ConsentRequest is what the user is asked to approve.
type ConsentRequest struct {
	// Subject is the signed-in user, from Config.Login.
	Subject string
	Client  ConsentClient
	// RequestedScopes are the scopes the client would be granted: those it
	// asked for, or its default scopes if it named none.
	RequestedScopes []string
	// RequestedAudience are the audiences its tokens would carry: those it
	// asked for, or its first audience. Consent grants them all.
	RequestedAudience []string
	// Remembered is the user's remembered consent to this client
	// (Config.Consents), or nil.
	Remembered *storage.Consent
	// AlwaysAsk is set for a public client whose redirect URI is a
	// loopback address or a private-use scheme (RFC 8252's native apps):
	// any local program can claim such a redirect URI and client id, so a
	// remembered consent proves nothing about who is asking, and the user
	// must see the request every time (RFC 8252 §8.6). Covered is false
	// for these.
	AlwaysAsk bool
}

// ConsentClient describes the client asking.
type ConsentClient struct {
	ID string
	// Public: the client has no secret (storage.Client.Public).
	Public bool
	// RedirectURI is the redirect URI of this request: where the code
	// goes.
	RedirectURI string
}

// Covered reports whether the remembered consent approves everything
// requested, so that the user need not be asked again: every requested
// scope and audience is in it, and AlwaysAsk is not set.
func (r ConsentRequest) Covered() bool {
	if r.Remembered == nil || r.AlwaysAsk {
		return false
	}
	return subset(r.RequestedScopes, r.Remembered.Scopes) && subset(r.RequestedAudience, r.Remembered.Audience)
}

// ConsentDecision is the user's answer.
type ConsentDecision struct {
	// Denied refuses the request: the client gets error=access_denied at
	// its redirect URI.
	Denied bool
	// Scopes are the scopes granted: RequestedScopes or fewer (none is
	// allowed: the tokens then carry the audience alone). A scope that was
	// not requested is a bug of the hook: the request fails with
	// server_error rather than grant it.
	Scopes []string
	// Remember stores the decision in Config.Consents (replacing an
	// earlier one), for Remembered to carry on the next request. A denial
	// is never remembered.
	Remember bool
}

func subset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// askConsent adapts Config.Consent for the provider: the remembered
// consent in, the decision checked and remembered out.
func (s *Server) askConsent(w http.ResponseWriter, r *http.Request, in provider.ConsentInput) (provider.ConsentOutput, bool) {
	ctx := r.Context()
	req := ConsentRequest{
		Subject:         in.Subject,
		Client:          ConsentClient{ID: in.ClientID, Public: in.Public, RedirectURI: in.RedirectURI},
		RequestedScopes: slices.Clone(in.Scopes), RequestedAudience: slices.Clone(in.Audience),
		AlwaysAsk: in.Public && in.NativeRedirect,
	}
	remembered, err := s.consents.GetConsent(ctx, in.Subject, in.ClientID)
	switch {
	case err == nil:
		req.Remembered = remembered
	case !errors.Is(err, storage.ErrNotFound):
		s.log.Error("authorize: reading a remembered consent", "client_id", in.ClientID, "err", err)
		return provider.ConsentOutput{Err: err}, true
	}
	d, ok := s.cfg.Consent(w, r, req)
	if !ok || d.Denied {
		return provider.ConsentOutput{Denied: d.Denied}, ok
	}
	for _, sc := range d.Scopes {
		if !slices.Contains(in.Scopes, sc) {
			err := fmt.Errorf("handler: Config.Consent granted scope %q, which was not requested", sc)
			s.log.Error("authorize: consent hook", "client_id", in.ClientID, "err", err)
			return provider.ConsentOutput{Err: err}, true
		}
	}
	if d.Remember {
		c := &storage.Consent{Subject: in.Subject, ClientID: in.ClientID, Scopes: slices.Clone(d.Scopes),
			Audience: slices.Clone(in.Audience), GrantedAt: s.cfg.Now()}
		if err := s.consents.SaveConsent(ctx, c); err != nil {
			s.log.Error("authorize: remembering a consent", "client_id", in.ClientID, "err", err)
			return provider.ConsentOutput{Err: err}, true
		}
	}
	s.obs.consentGranted(ctx, r, in.Subject, in.ClientID, scope.Join(d.Scopes), d.Remember)
	return provider.ConsentOutput{Scopes: slices.Clone(d.Scopes)}, true
}

// RevokeConsent withdraws a user's consent to a client: the remembered
// consent is forgotten, and everything the user's grants to the client
// issued is revoked: their refresh tokens (invalid_grant from now on),
// their access tokens (through the revocation feed, by grant_id) and
// their unredeemed codes. A user with no remembered consent still has
// their grants revoked.
func (s *Server) RevokeConsent(ctx context.Context, subject, clientID string) (err error) {
	ctx, span := s.obs.tracer.Start(ctx, "tollgate.consent.revoke")
	defer endSpan(span, &err)
	// Tokens first: if this fails, the consent is still listed and the
	// user can try again.
	n, err := s.provider.RevokeGrantsOf(ctx, subject, clientID)
	if err != nil {
		return fmt.Errorf("handler: revoking the grants of a consent: %w", err)
	}
	if err := s.consents.DeleteConsent(ctx, subject, clientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("handler: forgetting a consent: %w", err)
	}
	s.log.Info("consent revoked", "client_id", clientID, "families", n)
	s.obs.consentRevoked(ctx, subject, clientID)
	return nil
}

// Consents lists the user's remembered consents, by client id, for a page
// where they can revoke them.
func (s *Server) Consents(ctx context.Context, subject string) ([]*storage.Consent, error) {
	list, err := s.consents.ListConsents(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("handler: listing consents: %w", err)
	}
	return list, nil
}
