package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// fetcher gets the documents a resource server trusts from its issuer (key
// sets, metadata, the revocation feed) under one set of rules: https only,
// unless the host is loopback or http was allowed explicitly; no
// redirects, so a document cannot send the fetch elsewhere; a deadline on
// every request, whatever client the caller supplied; a bounded body.
type fetcher struct {
	client    *http.Client // the caller's client, copied, with redirects off
	timeout   time.Duration
	allowHTTP bool
	maxBytes  int64
}

// newFetcher copies client (nil: a plain client) rather than changing it:
// the caller may use it elsewhere with its own redirect policy.
func newFetcher(client *http.Client, timeout time.Duration, allowHTTP bool, maxBytes int64) *fetcher {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fetcher{client: c, timeout: timeout, allowHTTP: allowHTTP, maxBytes: maxBytes}
}

// checkURL applies the URL rule to raw; what names the document in the
// error ("JWKS", "metadata", "revocation feed").
func (f *fetcher) checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("middleware: %s URL %q must be an absolute http(s) URL", what, raw)
	}
	if u.Scheme == "http" && !f.allowHTTP && !isLoopback(u.Hostname()) {
		return fmt.Errorf("middleware: %s URL %q must use https (http is accepted for a loopback host, or with AllowHTTP)", what, raw)
	}
	return nil
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP literal. Other names are not resolved: what they resolve to
// can change after the check.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// get fetches rawURL and returns at most maxBytes of a 200 answer, within
// the fetcher's deadline.
func (f *fetcher) get(ctx context.Context, rawURL string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("%s answered %s; redirects are not followed", rawURL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s answered %s", rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.maxBytes {
		return nil, errors.New("document larger than the limit")
	}
	return body, nil
}
