package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/chromedp"
)

// The browser test's artifacts: a screenshot and the HTML of each page
// visited, written out only when the test fails.

// visit is one page as the test saw it.
type visit struct {
	name, url, html string
	png             []byte
}

// snapshot keeps a screenshot and the HTML of the current page, written out
// only if the test fails. Errors are logged, not fatal: a failed capture
// must not hide the test's own result.
func (h *headless) snapshot(name string) {
	ctx, cancel := context.WithTimeout(h.ctx, stepTimeout)
	defer cancel()
	v := visit{name: name}
	var err error
	if v.url, err = chromedp.Run(ctx, chromedp.Location()); err == nil {
		if v.png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			v.html, err = chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		}
	}
	if err != nil {
		h.t.Logf("snapshot of %s: %v", name, err)
	}
	h.mu.Lock()
	h.visits = append(h.visits, v)
	h.mu.Unlock()
}

// saveArtifacts writes each visited page (and the one the browser is on
// now) as NN-name.png and .html, and Chromium's output as chromium.log,
// in $TOLLGATE_ARTIFACTS/<test> or a new temporary directory, and prints
// where. (Chromium's output is mostly noise, such as a missing D-Bus, so
// it goes there rather than into the test's log.)
func (h *headless) saveArtifacts(output string) {
	h.snapshot("at-failure")
	dir := os.Getenv(artifactsEnv)
	var err error
	if dir != "" {
		// The test's own directory, emptied: only this run's pages in it.
		dir = filepath.Join(dir, strings.ReplaceAll(h.t.Name(), "/", "_"))
		if err = os.RemoveAll(dir); err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
	} else {
		dir, err = os.MkdirTemp("", "tollgate-browser-")
	}
	if err != nil {
		h.t.Logf("artifacts: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "chromium.log"), []byte(output), 0o644); err != nil {
		h.t.Logf("artifacts: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, v := range h.visits {
		base := filepath.Join(dir, fmt.Sprintf("%02d-%s", i+1, v.name))
		err := os.WriteFile(base+".html", []byte("<!-- "+v.url+" -->\n"+v.html), 0o644)
		if err == nil && v.png != nil { // nil: the capture failed (logged)
			err = os.WriteFile(base+".png", v.png, 0o644)
		}
		if err != nil {
			h.t.Logf("artifacts: %v", err)
		}
	}
	h.t.Logf("browser test artifacts (a screenshot and the HTML of each page visited, Chromium's output): %s", dir)
}
