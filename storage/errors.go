package storage

import "errors"

// Errors every implementation returns (wrapped or not); test them with
// errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists: a record with the same key exists.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrInvalid: the record failed validation; the error is a *ValidationError.
	ErrInvalid = errors.New("storage: invalid record")
	// ErrUnavailable: the backend cannot answer now (down, timed out). The
	// token endpoint answers 503 temporarily_unavailable for it.
	ErrUnavailable = errors.New("storage: unavailable")
)

// ValidationError names the field of a record that is invalid and why.
// errors.Is(err, ErrInvalid) holds for it.
type ValidationError struct {
	Field  string // e.g. "scopes[2]"
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: sprintf(format, args...)}
}
