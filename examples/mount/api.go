package main

import (
	"encoding/json"
	"net/http"

	"github.com/tollgate-oauth/tollgate/middleware"
)

// profile is GET /api/profile (scope profile:read): whom the token speaks
// for, and everything it says.
func profile(w http.ResponseWriter, r *http.Request) {
	c, _ := middleware.ClaimsFrom(r.Context()) // RequireScopes verified it
	all, err := c.All()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]any{"subject": c.Subject, "client_id": c.ClientID, "scopes": c.Scopes, "claims": all})
}

// reports is GET /api/reports (scope reports:read), the integration's
// route.
func reports(w http.ResponseWriter, r *http.Request) {
	c, _ := middleware.ClaimsFrom(r.Context())
	writeJSON(w, map[string]any{"client_id": c.ClientID, "reports": []map[string]string{
		{"id": "2026-q1", "title": "Sales, first quarter"},
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
