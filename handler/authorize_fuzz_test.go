package handler

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-oauth/tollgate/internal/oautherr"
)

// FuzzAuthorizeParams: what authorizeParams returns is every parameter
// fosite then reads. After it accepts a request, fosite's own parse
// (ParseMultipartForm, then r.Form) yields exactly the same names and
// values, so no half of the request escapes the strict checks; a refusal
// is a 400 invalid_request.
func FuzzAuthorizeParams(f *testing.F) {
	for _, s := range []struct {
		post                     bool
		contentType, query, body string
	}{
		{false, "", "response_type=code&client_id=spa&state=abcdefgh", ""},
		{true, "application/x-www-form-urlencoded", "client_id=spa", "response_type=code&client_id=spa"},
		{true, "application/x-www-form-urlencoded", "a=%zz", "b=1"},
		{true, "application/x-www-form-urlencoded", "", "a=1;b=2"},
		{true, "multipart/form-data; boundary=x", "", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"},
		{false, " Multipart/Form-Data; boundary=x", "", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"},
		{false, "application/x-www-form-urlencoded", "a=1", "a=2"},
		{true, "text/plain", "a=1", "a=2"},
		{true, "application/x-www-form-urlencoded", "", strings.Repeat("a=1&", 100)},
	} {
		f.Add(s.post, s.contentType, s.query, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, post bool, contentType, query string, body []byte) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/oauth/authorize", strings.NewReader(string(body)))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		all, perr := authorizeParams(r, 256, httptest.NewRecorder())
		if perr != nil {
			if all != nil || perr.Status != http.StatusBadRequest || perr.Code != oautherr.CodeInvalidRequest {
				t.Fatalf("refused with %d %q and values %v", perr.Status, perr.Code, all)
			}
			return
		}
		// fosite's reading of the request (fosite's NewAuthorizeRequest).
		if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
			return // fosite refuses the request itself
		}
		if r.MultipartForm != nil && len(r.MultipartForm.File) > 0 {
			t.Fatalf("fosite read %d uploaded files that were not checked", len(r.MultipartForm.File))
		}
		for name, values := range r.Form {
			got, want := slices.Sorted(slices.Values(values)), slices.Sorted(slices.Values(all[name]))
			if !slices.Equal(got, want) {
				t.Fatalf("fosite reads %s=%q, the checks saw %q", name, got, want)
			}
		}
		for name := range all {
			if _, ok := r.Form[name]; !ok {
				t.Fatalf("the checks saw %s, which fosite does not read", name)
			}
		}
	})
}
