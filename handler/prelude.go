package handler

import (
	"net/http"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
	"github.com/tollgate-oauth/tollgate/internal/tokenrequest"
	"github.com/tollgate-oauth/tollgate/storage"
)

// The steps of preludeSpans, by endpoint: the token endpoint's spans are
// tollgate.token.limit_ip and so on, the revocation endpoint's
// tollgate.revoke.limit_ip.
type preludeSpans struct{ limitIP, parse, authenticate string }

var stepSpans = func() (out [numEndpoints]preludeSpans) {
	for i, n := range endpointSpans {
		out[i] = preludeSpans{n + ".limit_ip", n + ".parse", n + ".authenticate"}
	}
	return out
}()

// parser reads an endpoint's request body under the token endpoint's
// strict rules (tokenrequest.Parse for the token endpoint, ParseOther for
// revocation and introspection).
type parser func(w http.ResponseWriter, r *http.Request, maxBody int64) (*tokenrequest.Request, *oautherr.Error)

// prelude is the first part of every endpoint that authenticates a
// client (token, revocation, introspection), one step per line: POST only,
// the per-IP limit, strict parsing, then early (a check that must come
// before a secret is checked, such as an unknown grant type; may be nil),
// then client authentication with its brute-force guard. Each step that
// reads or waits has its span. req is returned once parsed, even with an
// error after, so the caller can label what it was.
func (s *Server) prelude(w http.ResponseWriter, r *http.Request, ep endpoint, parse parser,
	early func(*tokenrequest.Request) *oautherr.Error) (client *storage.Client, req *tokenrequest.Request, ip string, e *oautherr.Error) {
	if e := allowOnly(r, http.MethodPost); e != nil {
		return nil, nil, "", e
	}
	ctx, spans := r.Context(), stepSpans[ep]
	ip = s.ips.Key(r)
	sctx, span := s.obs.step(ctx, spans.limitIP)
	e = s.limitByIP(sctx, ip)
	stepDone(span, e)
	if e != nil {
		return nil, nil, ip, e
	}
	_, span = s.obs.step(ctx, spans.parse)
	req, e = parse(w, r, s.cfg.MaxBodyBytes)
	stepDone(span, e)
	if e != nil {
		return nil, nil, ip, e
	}
	if early != nil {
		if e := early(req); e != nil {
			return nil, req, ip, e
		}
	}
	sctx, span = s.obs.step(ctx, spans.authenticate)
	client, e = s.authenticate(sctx, r, ep, req, ip)
	stepDone(span, e)
	return client, req, ip, e
}
