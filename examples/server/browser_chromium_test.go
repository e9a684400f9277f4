package main

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser test drives Debian's chromium through the DevTools protocol
// with chromedp (no driver binary, and it talks to the browser over a pipe,
// not a port).
const (
	// stepTimeout bounds one browser step (a navigation, a form post, a
	// query): each is a few local round trips, so a step that takes longer
	// is a hang, reported as the step that hung. The slowest step took
	// 1.6 s under -race on 2 cores at a load average of 20.
	stepTimeout = 5 * time.Second
	// startTimeout bounds Chromium's start; a first start on a cold disk
	// takes a few seconds.
	startTimeout = 30 * time.Second
	// artifactsEnv names the directory the screenshots of a failed browser
	// test go to; unset, a new directory under the system's temporary one.
	artifactsEnv = "TOLLGATE_ARTIFACTS"
)

// headless is one Chromium tab for a test: it records what the pages
// report (console, uncaught exceptions, the browser log, DevTools issues
// such as CSP violations) and a screenshot of each page visited, written
// out if the test fails.
type headless struct {
	t   *testing.T
	ctx context.Context // the tab; each step derives its timeout from it

	mu      sync.Mutex
	reports []report
	// expected are reports the test provokes, each allowed once in the
	// next check or a later one: the browser may send one late (an issue
	// can come with the next page).
	expected []report
	visits   []visit
}

// chromiumPath is Debian's chromium. A developer without it skips the
// browser test; CI (CI=true) must run it, so there it fails instead.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (%v): CI must run the browser test (.ci/run installs it)", err)
		}
		t.Skipf("chromium is not installed (%v); skipping the browser test (apt-get install chromium)", err)
	}
	return path
}

// startHeadless starts Chromium with a fresh profile. The flags keep it
// off the network it would otherwise try at start (component updates,
// sync, QUIC probes, first-run pages): on a closed network those lookups
// stall it. Everything is stopped, and the artifacts written, at cleanup.
func startHeadless(t *testing.T) *headless {
	t.Helper()
	path := chromiumPath(t)
	var output syncBuilder // Chromium's own stdout and stderr, kept with the artifacts
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium will not run as root with its sandbox (CI runs as root)
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	h := &headless{t: t}
	// The listener runs in the tab's read loop, before the next message is
	// read: a report made before a command's reply is recorded by the time
	// the command returns, so noReports after a step sees the step's.
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(h.listen))
	h.ctx = ctx
	t.Cleanup(func() {
		if t.Failed() {
			h.saveArtifacts(output.String())
		}
		cancelTab()
		cancelAlloc()
	})
	// The first Run ties the browser's life to its context, so the start
	// is bounded by a timer that cancels the allocator, not by a context
	// with a deadline (which would stop the browser once it passed).
	timer := time.AfterFunc(startTimeout, cancelAlloc)
	err := chromedp.Do(ctx)
	if !timer.Stop() {
		t.Fatalf("chromium did not start within %v; output:\n%s", startTimeout, output.String())
	}
	if err != nil {
		t.Fatalf("starting chromium: %v; output:\n%s", err, output.String())
	}
	// Audits reports what the browser blocked or flagged (a CSP
	// violation, a cookie it refused) as issues.
	if _, err := chromedp.Call(ctx, audits.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling DevTools issues: %v", err)
	}
	return h
}

// do runs steps as one step named what, failing the test on an error.
func (h *headless) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
}

// load runs steps that navigate (a link, a form post) and returns the
// status of the document the browser ended on.
func (h *headless) load(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// get runs one action that returns a value.
func get[T any](h *headless, what string, a chromedp.Action[T]) T {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		h.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// cookies returns the browser's cookies for base, by name: what it
// stored, with the attributes it stored them with.
func (h *headless) cookies(base string) map[string]*network.Cookie {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		h.t.Fatalf("reading cookies: %v", err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}
