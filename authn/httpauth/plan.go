package httpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// plan is an Endpoint parsed for sending: templates parsed and checked, defaults merged.
// It is immutable, so requests can be built from it concurrently.
type plan struct {
	method  string // "GET" or "POST"
	base    string // scheme://host[:port]
	https   bool
	path    template
	query   []param
	headers []header
	body    []param // the top-level body fields, for GET and form-encoded POST
	json    any     // the body as a JSON tree whose strings are templates, for JSON POST
	form    bool    // POST sends the body form-encoded instead of as JSON
	timeout time.Duration
	// logURL is the URL as configured, without its query: placeholders are not rendered,
	// so it never carries a password.
	logURL string
}

// param is one query parameter or top-level body field.
type param struct {
	key   template
	value any  // a template, or for body fields any JSON value whose strings are templates
	bare  bool // written without "=value", as in "?debug"
}

// header is one request header; names are lowercase, as EMQX keeps them.
type header struct {
	name  string
	value template
}

const (
	contentTypeJSON = "application/json"
	contentTypeForm = "application/x-www-form-urlencoded"
)

// defaultHeaders are EMQX's; POST also gets content-type: application/json.
func defaultHeaders() map[string]string {
	return map[string]string{
		"accept":        "application/json",
		"cache-control": "no-cache",
		"connection":    "keep-alive",
		"keep-alive":    "timeout=30, max=1000",
	}
}

// compile checks e and parses its templates, allowing the placeholders in vars. Errors
// start with the field they are about.
func (e Endpoint) compile(vars []string) (*plan, error) {
	p := &plan{}
	switch e.Method {
	case "get":
		p.method = "GET"
	case "post":
		p.method = "POST"
	default:
		return nil, fmt.Errorf("method: %q is not get or post", e.Method)
	}
	if e.RequestTimeout <= 0 {
		return nil, errors.New("request_timeout: must be positive")
	}
	p.timeout = e.RequestTimeout.D()
	if e.PoolSize < 1 {
		return nil, errors.New("pool_size: must be at least 1")
	}
	if err := e.SSL.validate(); err != nil {
		return nil, err
	}
	if err := p.parseURL(e.URL, vars); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if p.https && !e.SSL.Enable {
		// EMQX refuses this too, rather than guessing TLS settings.
		return nil, errors.New("ssl.enable: must be true for an https url")
	}
	if err := p.parseHeaders(e.Headers, vars); err != nil {
		return nil, err
	}
	if err := p.parseBody(e.Body, vars); err != nil {
		return nil, err
	}
	return p, nil
}

// parseURL splits the URL into a fixed base, a path template and query templates.
func (p *plan) parseURL(raw string, vars []string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("user information is not supported; use headers")
	case strings.Contains(raw, "#"):
		return errors.New("fragments are not supported")
	}
	p.https = u.Scheme == "https"
	p.base = u.Scheme + "://" + u.Host
	// The path and query are taken from the raw text, so that the author's escaping of
	// literal parts is kept as written.
	_, afterScheme, _ := strings.Cut(raw, "://")
	rest := ""
	if i := strings.IndexAny(afterScheme, "/?"); i >= 0 {
		rest = afterScheme[i:]
	}
	pathText, queryText, _ := strings.Cut(rest, "?")
	p.path = parseTemplate(pathText)
	p.logURL = p.base + pathText
	if err := checkVars(p.path, vars); err != nil {
		return err
	}
	for part := range strings.SplitSeq(queryText, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		qp := param{key: parseTemplate(key), value: parseTemplate(value), bare: !hasValue}
		if err := errors.Join(checkVars(qp.key, vars), checkVars(qp.value.(template), vars)); err != nil {
			return err
		}
		p.query = append(p.query, qp)
	}
	// Literal parts of the path must already be valid in a URL.
	probe := p.base + p.path.render(func(string) string { return "x" }, nil)
	if _, err := url.ParseRequestURI(probe); err != nil {
		return errors.New("the path is not a valid URL path")
	}
	return nil
}

// parseHeaders merges the configured headers over the defaults, as EMQX does, and
// parses their values.
func (p *plan) parseHeaders(configured map[string]string, vars []string) error {
	merged := defaultHeaders()
	if p.method == "POST" {
		merged["content-type"] = contentTypeJSON
	}
	for name, value := range configured {
		name = strings.ToLower(name)
		if !isToken(name) {
			return fmt.Errorf("headers: %q is not a valid header name", name)
		}
		merged[name] = value
	}
	if p.method == "GET" {
		// A GET has no body, so EMQX drops a configured content-type.
		delete(merged, "content-type")
	}
	names := make([]string, 0, len(merged))
	for name := range merged {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		value := merged[name]
		if strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("headers.%s: value contains CR, LF or NUL", name)
		}
		t := parseTemplate(value)
		if err := checkVars(t, vars); err != nil {
			return fmt.Errorf("headers.%s: %w", name, err)
		}
		p.headers = append(p.headers, header{name: name, value: t})
	}
	if ct, ok := merged["content-type"]; ok {
		mediaType, _, _ := strings.Cut(ct, ";")
		switch strings.ToLower(strings.TrimSpace(mediaType)) {
		case contentTypeJSON:
		case contentTypeForm:
			p.form = true
		default:
			return fmt.Errorf("headers.content-type: %q is not %s or %s", ct, contentTypeJSON, contentTypeForm)
		}
	}
	return nil
}

// parseBody turns the configured body into templates. It goes through JSON first, so
// a body built in Go code (with ints, nested maps of strings) is read the same way as
// a decoded one.
func (p *plan) parseBody(body map[string]any, vars []string) error {
	if len(body) == 0 {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	parsed, err := parseTree(tree, "body", vars)
	if err != nil {
		return err
	}
	p.json = parsed
	obj := parsed.(map[string]any)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.body = append(p.body, param{key: template{{text: k}}, value: obj[k]})
	}
	return nil
}

// parseTree replaces every string in a decoded JSON value by its template; at names the
// value for errors.
func parseTree(v any, at string, vars []string) (any, error) {
	switch v := v.(type) {
	case string:
		t := parseTemplate(v)
		if err := checkVars(t, vars); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		return t, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			parsed, err := parseTree(e, at+"."+k, vars)
			if err != nil {
				return nil, err
			}
			out[k] = parsed
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			parsed, err := parseTree(e, fmt.Sprintf("%s[%d]", at, i), vars)
			if err != nil {
				return nil, err
			}
			out[i] = parsed
		}
		return out, nil
	}
	return v, nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
