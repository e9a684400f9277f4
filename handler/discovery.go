package handler

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// metadata is the RFC 8414 authorization server metadata.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationFeedEndpoint                     string   `json:"revocation_feed_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

func (s *Server) buildMetadata() ([]byte, error) {
	authMethods := []string{"client_secret_basic", "client_secret_post", "none"}
	md := metadata{
		Issuer:                                    s.cfg.Issuer,
		TokenEndpoint:                             s.cfg.Issuer + TokenPath,
		JWKSURI:                                   s.cfg.Issuer + JWKSPath,
		RevocationEndpoint:                        s.cfg.Issuer + RevokePath,
		IntrospectionEndpoint:                     s.cfg.Issuer + IntrospectPath,
		RevocationFeedEndpoint:                    s.cfg.Issuer + RevocationsPath,
		ScopesSupported:                           s.cfg.ScopesSupported,
		ResponseTypesSupported:                    []string{}, // no authorization endpoint without Login
		GrantTypesSupported:                       s.provider.GrantTypes(),
		TokenEndpointAuthMethodsSupported:         authMethods,
		RevocationEndpointAuthMethodsSupported:    authMethods,
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	}
	if s.cfg.Login != nil {
		md.AuthorizationEndpoint = s.cfg.Issuer + AuthorizePath
		md.ResponseTypesSupported = []string{"code"}
		md.ResponseModesSupported = []string{"query"}
		md.CodeChallengeMethodsSupported = []string{"S256"}
		if s.cfg.PKCE.AllowPlain {
			md.CodeChallengeMethodsSupported = append(md.CodeChallengeMethodsSupported, "plain")
		}
		md.AuthorizationResponseIssParameterSupported = true
	}
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("handler: rendering metadata: %w", err)
	}
	return append(b, '\n'), nil
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) (answer, error) {
	return answer{}, serveStatic(w, r, "application/json", s.metadata)
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) (answer, error) {
	return answer{}, serveStatic(w, r, "application/json", s.keys.Load().JWKS())
}

// serveStatic answers GET and HEAD with a document that is fixed for the
// life of the server, cacheable for five minutes.
func serveStatic(w http.ResponseWriter, r *http.Request, contentType string, body []byte) error {
	if e := allowOnly(r, http.MethodGet, http.MethodHead); e != nil {
		return e
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return nil
}
