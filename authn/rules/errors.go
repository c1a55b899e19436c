package rules

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError reports a rule field that cannot be decoded or compiled. Field is the path
// to it, e.g. "rules[3].who.ipaddr", so the API can point at the offending input.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// under prefixes the path of a *FieldError with parent, so errors found deep in a rule
// name their full path ("who" + "and[1].username" → "who.and[1].username").
func under(parent string, err error) error {
	var fe *FieldError
	if err == nil || !errors.As(err, &fe) {
		return err
	}
	switch {
	case fe.Field == "":
		return &FieldError{Field: parent, Reason: fe.Reason}
	case strings.HasPrefix(fe.Field, "["):
		return &FieldError{Field: parent + fe.Field, Reason: fe.Reason}
	}
	return &FieldError{Field: parent + "." + fe.Field, Reason: fe.Reason}
}

// indexed names element i of the list field, e.g. indexed("topics", 2) = "topics[2]".
func indexed(field string, i int) string {
	return fmt.Sprintf("%s[%d]", field, i)
}

// SyntaxError reports an acl.conf that cannot be imported: Line is 1-based.
type SyntaxError struct {
	Line   int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}
