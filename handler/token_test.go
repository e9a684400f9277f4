package handler_test

import (
	"net/url"
	"testing"
)

func TestClientCredentialsSmoke(t *testing.T) {
	t.Parallel()
	ts, _ := newServer(t, nil)
	res := postForm(t, ts, url.Values{"grant_type": {"client_credentials"}}, integrationID+":"+integrationSecret)
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	t.Logf("%s", res.raw)
	res = postRaw(t, ts, "application/json", `{"grant_type":"client_credentials","client_id":"sales-channel","scope":"market:id:xYZkjABcde"}`)
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	t.Logf("%s", res.raw)
}
