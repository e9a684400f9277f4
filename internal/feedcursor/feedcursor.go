// Package feedcursor reads and writes the cursors of the revocation feed
// (GET /oauth/revocations?after=<cursor>): "<epoch>.<seq>", where epoch
// names the store's feed and seq is the position read up to. Cursors come
// back from clients, so Parse takes nothing but the canonical form.
package feedcursor

import (
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed: the cursor is not "<epoch>.<seq>".
var ErrMalformed = errors.New("feedcursor: want <epoch>.<seq>")

const maxEpoch = 64

// Cursor is a position in one store's feed.
type Cursor struct {
	Epoch string
	Seq   uint64
}

// String is the cursor's wire form.
func (c Cursor) String() string { return c.Epoch + "." + strconv.FormatUint(c.Seq, 10) }

// Parse reads a cursor: an epoch of 1 to 64 base64url characters, a dot,
// and a decimal sequence number without leading zeros.
func Parse(s string) (Cursor, error) {
	epoch, seq, ok := strings.Cut(s, ".")
	if !ok || epoch == "" || len(epoch) > maxEpoch || !base64URL(epoch) || seq == "" || len(seq) > 20 ||
		(len(seq) > 1 && seq[0] == '0') || !digits(seq) {
		return Cursor{}, ErrMalformed
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return Cursor{}, ErrMalformed
	}
	return Cursor{Epoch: epoch, Seq: n}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
