package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

const argon2Prefix = "$argon2id$"

type argon2Params struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

// defaultArgon2 is OWASP's first recommended argon2id configuration.
var defaultArgon2 = argon2Params{memory: 19 * 1024, time: 2, threads: 1}

// Limits on parameters read from a stored hash, so a hostile or corrupt
// record cannot make one verification allocate gigabytes.
const (
	maxArgon2Memory  = 256 * 1024
	maxArgon2Time    = 16
	maxArgon2Threads = 16
)

func hashArgon2id(plain string, p argon2Params, r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, 16)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("secret: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(plain), salt, p.time, p.memory, p.threads, 32)
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2Prefix, argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// parseArgon2id reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parseArgon2id(hash string) (p argon2Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: argon2id hash must have 6 $-separated parts", ErrFormat)
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version %q", ErrFormat, parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, fmt.Errorf("%w: bad argon2id parameters %q", ErrFormat, parts[3])
	}
	if p.memory < 8*uint32(p.threads) || p.memory > maxArgon2Memory || p.time < 1 || p.time > maxArgon2Time ||
		p.threads < 1 || p.threads > maxArgon2Threads {
		return p, nil, nil, fmt.Errorf("%w: argon2id parameters out of range %q", ErrFormat, parts[3])
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: bad argon2id salt", ErrFormat)
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: bad argon2id key", ErrFormat)
	}
	return p, salt, key, nil
}

func compareArgon2id(hash, plain string) bool {
	p, salt, want, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(plain), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
