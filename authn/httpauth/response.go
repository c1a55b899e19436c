package httpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/xgate/xgate/authn"
)

// outcome is what an answer means.
type outcome struct {
	decision  authn.Decision
	superuser bool
	attrs     map[string]string
	expireAt  time.Time // zero when the server set none
	// problem says why the answer was not a plain one (a bad status, a body that
	// could not be read); level is how loudly to log it.
	problem string
	level   slog.Level
}

// authnOutcome reads an authentication answer as EMQX does: 204 allows; 200 carries
// {"result": ...}; anything else is no opinion.
func authnOutcome(r reply, now time.Time) outcome {
	fields, o, ok := resultFields(r)
	if !ok {
		return o
	}
	switch fields["result"] {
	case "allow":
		return allowOutcome(fields, now)
	case "deny":
		return outcome{decision: authn.Deny}
	}
	return outcome{decision: authn.Ignore}
}

// authzOutcome reads an authorization answer: 204 allows; 200 carries {"result": ...}.
func authzOutcome(r reply) outcome {
	fields, o, ok := resultFields(r)
	if !ok {
		return o
	}
	switch fields["result"] {
	case "allow":
		return outcome{decision: authn.Allow}
	case "deny":
		return outcome{decision: authn.Deny}
	}
	return outcome{decision: authn.Ignore}
}

// resultFields returns the fields of a 200 answer; ok is false when the status alone
// decides, with o the outcome then.
func resultFields(r reply) (fields map[string]any, o outcome, ok bool) {
	switch r.status {
	case http.StatusNoContent:
		return nil, outcome{decision: authn.Allow}, false
	case http.StatusOK:
	default:
		o = outcome{decision: authn.Ignore, problem: fmt.Sprintf("unexpected status %d", r.status), level: slog.LevelDebug}
		if r.status >= 500 {
			o.level = slog.LevelWarn
		}
		return nil, o, false
	}
	fields, err := parseAnswer(r.contentType, r.body)
	if err != nil {
		return nil, outcome{decision: authn.Ignore, problem: "response body: " + err.Error(), level: slog.LevelWarn}, false
	}
	return fields, outcome{}, true
}

// allowOutcome reads the extras of an "allow". A bad expire_at turns it into a denial,
// as EMQX's bad_username_or_password.
func allowOutcome(fields map[string]any, now time.Time) outcome {
	o := outcome{
		decision:  authn.Allow,
		superuser: isSuperuser(fields["is_superuser"]),
		attrs:     clientAttrs(fields["client_attrs"]),
	}
	v, ok := fields["expire_at"]
	if !ok {
		return o
	}
	n, isNumber := v.(json.Number)
	sec, err := strconv.ParseInt(string(n), 10, 64)
	switch {
	case !isNumber || err != nil:
		return outcome{decision: authn.Deny, problem: "expire_at is not an integer (Unix time in seconds)", level: slog.LevelWarn}
	case sec < now.Unix():
		return outcome{decision: authn.Deny, problem: "expire_at is in the past", level: slog.LevelDebug}
	case sec > now.UnixMilli()/2:
		// EMQX's check for a time given in milliseconds.
		return outcome{decision: authn.Deny, problem: "expire_at does not look like Unix time in seconds", level: slog.LevelWarn}
	}
	o.expireAt = time.Unix(sec, 0)
	return o
}

// isSuperuser reads is_superuser as EMQX does: true, "true", or an integer (or integer
// string) of at least 1; anything else is false.
func isSuperuser(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		return err == nil && n >= 1
	case string:
		if v == "true" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n >= 1
	}
	return false
}

// clientAttrs reads client_attrs as strings; other JSON values are written as JSON and
// nulls dropped.
func clientAttrs(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	attrs := make(map[string]string, len(m))
	for k, e := range m {
		switch e := e.(type) {
		case nil:
		case string:
			attrs[k] = e
		default:
			attrs[k] = paramValue(e)
		}
	}
	return attrs
}

// parseAnswer decodes a 200 body: a form when the server says so (EMQX accepts that
// too), else a JSON object. Unlike EMQX, a JSON body is accepted whatever the
// content-type, since many small servers send JSON as text/plain.
func parseAnswer(contentType string, body []byte) (map[string]any, error) {
	if mediaType, _, _ := mime.ParseMediaType(contentType); mediaType == contentTypeForm {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		fields := make(map[string]any, len(values))
		for k, vs := range values {
			fields[k] = vs[0]
		}
		return fields, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if fields == nil {
		return nil, errors.New("not a JSON object")
	}
	return fields, nil
}
