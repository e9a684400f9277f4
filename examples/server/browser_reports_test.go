package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// What the browser reports about the pages (console, exceptions, its log,
// DevTools issues), and the test's check that it reported nothing
// unexpected.

// report is one thing a page said: a console call, an exception, a log
// entry or an inspector issue.
type report struct {
	kind, level, source, url, text string
}

func (r report) String() string {
	s := r.kind
	if r.level != "" {
		s += " " + r.level
	}
	if r.source != "" {
		s += " (" + r.source + ")"
	}
	if r.url != "" {
		s += " at " + r.url
	}
	return s + ": " + r.text
}

// matches reports whether r is what p describes: the same kind, level
// and source, at p's URL if it names one, its text containing p's.
func (r report) matches(p report) bool {
	return r.kind == p.kind && r.level == p.level && r.source == p.source &&
		(p.url == "" || r.url == p.url) && strings.Contains(r.text, p.text)
}

// listen records every console call, uncaught exception, browser log
// entry and inspector issue. It runs in chromedp's read loop: it only
// appends.
func (h *headless) listen(ev any) {
	var r report
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		r = report{kind: "console", level: string(ev.Type), text: strings.Join(args, " ")}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		r = report{kind: "exception", url: d.URL, text: text}
	case *log.EventEntryAdded:
		r = logReport(ev.Entry)
	case *audits.EventIssueAdded:
		r = report{kind: "issue", level: string(ev.Issue.Code), text: issueText(ev.Issue)}
	default:
		return
	}
	h.mu.Lock()
	h.reports = append(h.reports, r)
	h.mu.Unlock()
}

func logReport(e *log.Entry) report {
	return report{kind: "log", level: string(e.Level), source: string(e.Source), url: e.URL, text: e.Text}
}

// issueText is an issue's details as the protocol's JSON: exact, for
// comparing with an expected issue, and readable in a failure.
func issueText(i *audits.InspectorIssue) string {
	b, err := jsonv2.Marshal(i.Details)
	if err != nil {
		return fmt.Sprintf("%+v (%v)", i.Details, err)
	}
	return string(b)
}

// takeReports returns what the pages reported since the last call.
func (h *headless) takeReports() []report {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.reports
	h.reports = nil
	return r
}

// expect allows one report matching r (see report.matches), in the next
// check or a later one: the test provokes it.
func (h *headless) expect(r report) {
	h.mu.Lock()
	h.expected = append(h.expected, r)
	h.mu.Unlock()
}

// stillExpected reports whether an expectation matching exactly r is
// still waiting for its report.
func (h *headless) stillExpected(r report) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.expected, r)
}

// noReports fails the test with whatever the pages reported since the
// last check, other than those expected.
func (h *headless) noReports(where string) {
	h.t.Helper()
	// A round trip: reports the browser sent before its reply are recorded
	// by the time it returns (see startHeadless).
	get(h, "a round trip", chromedp.Evaluate[int](`0`))
	for _, r := range h.takeReports() {
		h.mu.Lock()
		i := slices.IndexFunc(h.expected, r.matches)
		if i >= 0 {
			h.expected = slices.Delete(h.expected, i, i+1)
		}
		h.mu.Unlock()
		if i < 0 {
			h.t.Errorf("%s: the browser reported %s", where, r)
		}
	}
}

// finish leaves the last page, so that what the browser reports late
// about it arrives, and checks it.
func (h *headless) finish() {
	h.t.Helper()
	h.do("leaving the last page", chromedp.Navigate("about:blank"))
	h.noReports("after the last page")
}
