package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// configError is the shape of every error parseConfig returns for a
// document that is YAML: the line, or the key path the operator wrote
// (listen, keys[0].kid, rate_limits.token, users[1].claims.sub …).
var configError = regexp.MustCompile(`^(line \d+: |(` + strings.Join(topLevelKeys(), "|") + `)[\[.:])`)

// topLevelKeys are the YAML keys of fileConfig, read from its tags so that
// a key added later is known here too.
func topLevelKeys() []string {
	var keys []string
	t := reflect.TypeFor[fileConfig]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, regexp.QuoteMeta(name))
		}
	}
	return keys
}

// goNames are what the decoder knows and the operator never wrote.
var goNames = regexp.MustCompile(`main\.|fileConfig|clientConfig|userConfig|keyConfig|rateConfig|\bstruct\b`)

// FuzzParseConfig: the YAML config loader never panics; what it refuses
// it refuses with one line that names the line or the key (and no Go type
// names); what it accepts passes validation again and parses the same way
// twice.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("tollgate.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(example), issueConfig, "", "{}", "listen: x", "clients: [\n  - id: a\n", "listn: x",
		"keys:\n  - kid: k1\n  - kid: k1\n", "clients:\n  - id: a\n    public: maybe\n",
		"users:\n  - username: a\n    password: x\n    claims: {tenant: {1: a}}\n",
		"clients: abc\n", "keys: [[1]]\n", "rate_limits: {token: 1-X}\n", "a: &a [*a]\n", "\xff",
		"clients:\n  - id: a\n    access_token_ttl: -1s\n", "--- \n...\n---\nlisten: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig(data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("a config and an error %v together", err)
			}
			msg := err.Error()
			switch {
			case msg == "" || strings.Contains(msg, "\n"):
				t.Fatalf("error is not one line: %q", msg)
			case goNames.MatchString(msg):
				t.Fatalf("error names a Go type, not what the operator wrote: %q", msg)
			case isYAML(data) && !configError.MatchString(msg):
				t.Fatalf("error names neither a line nor a key: %q", msg)
			}
			return
		}
		if err := cfg.check(); err != nil {
			t.Fatalf("an accepted config fails validation again: %v", err)
		}
		again, err := parseConfig(data)
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("a second parse differs: %+v, %v; first %+v", again, err, cfg)
		}
	})
}

// isYAML reports whether data is a YAML document at all: only then are
// there lines and keys for an error to name.
func isYAML(data []byte) bool {
	var doc yaml.Node
	return yaml.Unmarshal(data, &doc) == nil
}
