// Command mount shows tollgate inside an existing gorilla/mux application:
// the app keeps its own routes and mounts the authorization server under
// /auth.
//
//	go run ./examples/mount    # then: curl -u reports:<secret> -d grant_type=client_credentials http://127.0.0.1:8081/auth/oauth/token
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate-oauth/tollgate/handler"
	"github.com/tollgate-oauth/tollgate/storage"
	"github.com/tollgate-oauth/tollgate/storage/memory"
)

const listen = "127.0.0.1:8081"

func main() {
	secret, hash, err := handler.GenerateClientSecret()
	if err != nil {
		log.Fatal(err)
	}
	router, err := newApp("http://"+listen+"/auth", hash, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("app on http://%s; client reports / %s\n", listen, secret)
	fmt.Printf("  curl -s -u reports:%s -d grant_type=client_credentials http://%s/auth/oauth/token\n", secret, listen)
	srv := &http.Server{Addr: listen, Handler: router, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newApp is the existing application: its own routes, plus tollgate under
// /auth. issuer must be the public URL of the mount point.
func newApp(issuer, reportsSecretHash string, logger *slog.Logger) (*mux.Router, error) {
	clients := memory.New()
	err := clients.CreateClient(context.Background(), &storage.Client{
		ID: "reports", SecretHash: reportsSecretHash, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"reports:read"}, DefaultScopes: []string{"reports:read"},
		Audiences: []string{"https://app.example.com/api"},
	})
	if err != nil {
		return nil, err
	}
	auth, err := handler.New(handler.Config{Issuer: issuer, Clients: clients, Logger: logger})
	if err != nil {
		return nil, err
	}

	r := mux.NewRouter()
	r.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "the existing app's home page")
	}).Methods(http.MethodGet)
	// The kit is an http.Handler: strip the prefix and its routes
	// (/oauth/token, /.well-known/...) line up under /auth.
	r.PathPrefix("/auth/").Handler(http.StripPrefix("/auth", auth))
	return r, nil
}
