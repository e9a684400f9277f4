package provider

import (
	"encoding/json"
	"testing"
)

// AppendJSON must write byte for byte what json.Marshal writes for the same
// response, escapes included.
func TestResponseAppendJSONMatchesMarshal(t *testing.T) {
	t.Parallel()
	for _, r := range []Response{
		{},
		{AccessToken: "eyJhbGciOiJFUzI1NiJ9.e30.sig", TokenType: "Bearer", ExpiresIn: 3600, Scope: "orders:read orders:write", CreatedAt: 1764892800},
		{AccessToken: "a", TokenType: "DPoP", ExpiresIn: -1, Scope: "", CreatedAt: -5, RefreshToken: "rt.secret-part_1"},
		{AccessToken: `quote" back\slash`, TokenType: "Bearer", Scope: "<script>&amp;", RefreshToken: "tab\there"},
		{AccessToken: "caf\u00e9 \u2028 \U0001F600", Scope: "bad utf8 \xff\xfe", RefreshToken: "nul\x00ctl\x1f del\x7f"},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON(%+v)\n got %s\nwant %s", r, got, want)
		}
	}
}

func FuzzResponseAppendJSON(f *testing.F) {
	f.Add("eyJ.e30.sig", "Bearer", "orders:read", "", int64(3600))
	f.Add(`"\`, "<>&", "\u2028\xff", "\x00", int64(-1))
	f.Fuzz(func(t *testing.T, access, typ, scope, refresh string, n int64) {
		r := Response{AccessToken: access, TokenType: typ, ExpiresIn: n, Scope: scope, CreatedAt: n / 2, RefreshToken: refresh}
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
