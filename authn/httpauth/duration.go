package httpauth

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in JSON as EMQX does ("5s", "500ms"); a number is
// read as milliseconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of milliseconds. The only Duration
// field is request_timeout, and encoding/json does not say which field a custom decoder
// failed on, so the error names it.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms int64
		if err := json.Unmarshal(b, &ms); err != nil {
			return fmt.Errorf("request_timeout: want a duration like \"5s\" or milliseconds, got %s", b)
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("request_timeout: want a duration like \"5s\" or \"500ms\", got %q", s)
	}
	*d = Duration(v)
	return nil
}
