package keys

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestES256FromASN1 covers the widths DER gives r and s: a sign-padding
// zero (33 bytes), a short value (leading zero bytes dropped), and what
// must be refused.
func TestES256FromASN1(t *testing.T) {
	full := bytes.Repeat([]byte{0xff}, 32)
	der := func(r, s []byte) []byte {
		in := func(v []byte) []byte { return append([]byte{0x02, byte(len(v))}, v...) }
		body := append(in(r), in(s)...)
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	for _, c := range []struct {
		name string
		der  []byte
		want []byte // nil: refused
	}{
		{"sign-padded r, short s", der(append([]byte{0}, full...), []byte{0x01, 0x02}),
			append(append([]byte{}, full...), append(make([]byte, 30), 0x01, 0x02)...)},
		{"one-byte values", der([]byte{0x07}, []byte{0x09}),
			append(append(make([]byte, 31), 0x07), append(make([]byte, 31), 0x09)...)},
		{"r too long", der(append([]byte{0x01}, full...), []byte{0x01}), nil},
		{"trailing bytes", append(der([]byte{1}, []byte{1}), 0), nil},
		{"not a sequence", []byte{0x02, 0x01, 0x01}, nil},
		{"empty", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := es256FromASN1(c.der)
			if c.want == nil {
				if err == nil {
					t.Fatalf("accepted: %x", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("got %x, %v; want %x", got, err, c.want)
			}
		})
	}
}

// TestSignManyVerify signs enough ES256 tokens that some r or s has a
// leading zero byte (about one in 128), and go-jose verifies them all.
func TestSignManyVerify(t *testing.T) {
	priv, err := Generate(ES256, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(`k"1\`, ES256, priv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 600 {
		token, err := k.Sign([]byte(`{"i":` + strings.Repeat("1", i%7+1) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if jws.Signatures[0].Header.KeyID != `k"1\` {
			t.Fatalf("kid %q", jws.Signatures[0].Header.KeyID)
		}
		if _, err := jws.Verify(k.Public()); err != nil {
			t.Fatalf("token %d does not verify: %v", i, err)
		}
	}
}
