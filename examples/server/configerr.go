package main

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tollgate-oauth/tollgate/handler"
)

// Errors name what the operator wrote: the file, the line and the YAML
// key ("config tollgate.yaml:3: issuer: …"), or the flag ("-issuer: …"),
// never handler.Config's Go field.

// lineError is a problem at a line of the config file.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// lineFrom is a lineError of a "line N: …" report of the YAML decoder,
// else the report as it is.
func lineFrom(msg string) error {
	if m := atLine.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return &lineError{line: n, err: errors.New(m[2])}
		}
	}
	return errors.New(msg)
}

// unknownKey reports a key the schema does not have, with the known key
// of the same mapping it is closest to.
func unknownKey(line, path string) error {
	parent, name := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent, name = path[:i], path[i+1:]
	}
	shown := path
	if name == "" || strings.ContainsAny(name, " \t") {
		shown = strconv.Quote(name) // an empty or spaced key, visible
		if parent != "" {
			shown = parent + "." + shown
		}
	}
	msg := "unknown field " + shown
	if s := suggestKey(name, knownKeys(parent)); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return lineFrom("line " + line + ": " + msg)
}

// inFile is a config error as the operator reads it: the file, with the
// line when there is one.
func inFile(path string, err error) error {
	if le, ok := errors.AsType[*lineError](err); ok {
		return fmt.Errorf("config %s:%d: %w", path, le.line, le.err)
	}
	return fmt.Errorf("config %s: %w", path, err)
}

// keyLines maps each key path of the document ("clients[1].secret") and
// each list element holding keys ("clients[1]") to its line.
func keyLines(data []byte) map[string]int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var fields []fieldAt
	fieldPaths(&doc, "", &fields)
	lines := map[string]int{}
	for _, f := range fields {
		if _, ok := lines[f.path]; !ok {
			lines[f.path] = f.line
		}
		// The element of a list starts at its first key.
		for i, c := range f.path {
			if c != ']' {
				continue
			}
			if l, ok := lines[f.path[:i+1]]; !ok || f.line < l {
				lines[f.path[:i+1]] = f.line
			}
		}
	}
	return lines
}

// atLine adds the line of the key an error of check names: check's
// errors start with the key path ("clients[0].secret: …").
func (cfg *fileConfig) atLine(err error) error {
	msg := err.Error()
	best, line := "", 0
	for path, l := range cfg.lines {
		if len(path) > len(best) && strings.HasPrefix(msg, path) && len(msg) > len(path) && strings.ContainsRune(":.[ ", rune(msg[len(path)])) {
			best, line = path, l
		}
	}
	if best == "" {
		return err
	}
	return &lineError{line: line, err: err}
}

// checkIssuer applies the handler's issuer rule to a configured issuer:
// refused here, a bad issuer stops the server before it opens its storage
// or binds its port.
func checkIssuer(iss string) error {
	if iss == "" {
		return nil // the default: http:// and the bound address
	}
	if err := handler.CheckIssuer(iss); err != nil {
		if ce, ok := errors.AsType[*handler.ConfigError](err); ok {
			return ce.Err
		}
		return err
	}
	return nil
}

// setting names where the value of a YAML key came from, for an error
// about it: the flag that overrode it, or the file and line.
func (cfg *fileConfig) setting(key string, problem error) error {
	if flag, ok := cfg.fromFlag[key]; ok {
		return fmt.Errorf("%s: %w", flag, problem)
	}
	if cfg.file == "" {
		return fmt.Errorf("%s: %w", key, problem)
	}
	// The line of the key, or of the nearest key above it in the path
	// (keys[0].alg left to its default is reported at keys[0]).
	for p := key; p != ""; p = parentPath(p) {
		if l, ok := cfg.lines[p]; ok {
			return fmt.Errorf("config %s:%d: %s: %w", cfg.file, l, key, problem)
		}
	}
	return fmt.Errorf("config %s: %s: %w", cfg.file, key, problem)
}

// parentPath is the path one level up: "keys[0].alg" → "keys[0]" →
// "keys" → "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// handlerField maps a field of handler.Config (handler.ConfigError.Field)
// to the YAML key the demo fills it from.
var handlerField = []struct {
	field *regexp.Regexp
	key   string // with $1 for the index
}{
	{regexp.MustCompile(`^Issuer$`), "issuer"},
	{regexp.MustCompile(`^RateLimits\.Token$`), "rate_limits.token"},
	{regexp.MustCompile(`^RateLimits\.TokenPerIP$`), "rate_limits.token_per_ip"},
	{regexp.MustCompile(`^RateLimits\.FailedAuth$`), "rate_limits.failed_auth"},
	{regexp.MustCompile(`^KeyRotation\.PublishAhead$`), "key_publish_ahead"},
	{regexp.MustCompile(`^KeyRotation(\.\w+)?$`), "key_rotation"},
	{regexp.MustCompile(`^Keys\[(\d+)\]\.Algorithm$`), "keys[$1].alg"},
	{regexp.MustCompile(`^Keys\[(\d+)\]\.ID$`), "keys[$1].kid"},
	{regexp.MustCompile(`^Keys\[(\d+)\]\.Key$`), "keys[$1].file"},
	{regexp.MustCompile(`^Keys\[(\d+)\]$`), "keys[$1]"},
	{regexp.MustCompile(`^Keys$`), "keys"},
	{regexp.MustCompile(`^TrustedProxies\[(\d+)\]$`), "trusted_proxies[$1]"},
	{regexp.MustCompile(`^ScopesSupported\[\d+\]$`), "clients[].scopes"},
}

// settingError names the setting an error of handler.New is about, when
// it is about one the operator set: handler.New reports a
// *handler.ConfigError naming its Go field, which is mapped here, not
// reworded. Any other error is returned as it is.
func (cfg *fileConfig) settingError(err error) error {
	ce, ok := errors.AsType[*handler.ConfigError](err)
	if !ok {
		return err
	}
	for _, m := range handlerField {
		if idx := m.field.FindStringSubmatchIndex(ce.Field); idx != nil {
			key := string(m.field.ExpandString(nil, m.key, ce.Field, idx))
			if strings.HasPrefix(key, "keys") && len(cfg.Keys) == 0 {
				key = "keys (the default key k1)"
			}
			return cfg.setting(key, ce.Err)
		}
	}
	return err
}

// overrideFlags checks the flags that override config keys, naming the
// flag, and records them so later errors about these keys name the flag
// too.
func (cfg *fileConfig) overrideFlags(listen, storageSpec, iss, opsListen string) error {
	if cfg.fromFlag == nil {
		cfg.fromFlag = map[string]string{}
	}
	if listen != "" {
		if _, _, err := net.SplitHostPort(listen); err != nil {
			return fmt.Errorf("-listen: %q is not host:port (e.g. 127.0.0.1:8080, or :8080 for every address)", listen)
		}
		cfg.Listen, cfg.fromFlag["listen"] = listen, "-listen"
	}
	if storageSpec != "" {
		if err := checkStorage(storageSpec); err != nil {
			return fmt.Errorf("-storage: %w", err)
		}
		cfg.Storage, cfg.fromFlag["storage"] = storageSpec, "-storage"
	}
	if iss != "" {
		if err := checkIssuer(iss); err != nil {
			return fmt.Errorf("-issuer: %w", err)
		}
		cfg.Issuer, cfg.fromFlag["issuer"] = iss, "-issuer"
	}
	if opsListen != "" {
		if _, _, err := net.SplitHostPort(opsListen); err != nil {
			return fmt.Errorf("-ops-listen: %q is not host:port (e.g. 127.0.0.1:9090)", opsListen)
		}
		cfg.OpsListen, cfg.fromFlag["ops_listen"] = opsListen, "-ops-listen"
	}
	return nil
}
