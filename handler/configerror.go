package handler

import (
	"fmt"

	"github.com/tollgate-oauth/tollgate/internal/issuer"
)

// ConfigError is one problem [New] found in a [Config] field. New reports
// every problem it finds, joined with [errors.Join]; [errors.As] finds the
// first. A host that takes its settings from elsewhere (a YAML key, a
// flag) maps Field to the name its operator wrote, and shows Err, instead
// of rewording Error's text.
type ConfigError struct {
	// Field is the field's path in Config: "Issuer", "Keys[1].Algorithm",
	// "RateLimits.Token", "KeyRotation.Every".
	Field string
	// Err is the problem, worded without the field's name:
	// `"localhost:8080" is not an absolute URL; did you mean "https://localhost:8080"?`.
	Err error
}

func (e *ConfigError) Error() string { return "handler: Config." + e.Field + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// configError is a ConfigError of a formatted problem.
func configError(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// CheckIssuer applies [Config.Issuer]'s rule, as New does: an absolute
// http or https URL with no query, fragment or user info (a trailing slash
// is dropped). A host checks a configured issuer with it before opening
// storage or binding a port; the error is a [*ConfigError] for the field
// "Issuer".
func CheckIssuer(iss string) error {
	if err := issuer.Check(iss); err != nil {
		return &ConfigError{Field: "Issuer", Err: err}
	}
	return nil
}
