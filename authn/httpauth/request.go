package httpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// newRequest renders the plan with b's values. Its errors never include the URL, which
// may carry the password.
func (p *plan) newRequest(ctx context.Context, b bindings) (*http.Request, error) {
	target := p.base + p.path.render(b.value, url.PathEscape)
	params := p.query
	if p.method == "GET" {
		// EMQX sends a GET's body as query parameters after the configured ones.
		params = append(params[:len(params):len(params)], p.body...)
	}
	if q := encodeParams(params, b); q != "" {
		target += "?" + q
	}
	var body io.Reader
	if p.method == "POST" {
		data, err := p.renderBody(b)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, p.method, target, body)
	if err != nil {
		return nil, errors.New("the rendered url is not valid")
	}
	for _, h := range p.headers {
		v := h.value.render(b.value, nil)
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: the rendered value contains CR, LF or NUL", h.name)
		}
		if h.name == "host" {
			req.Host = v // net/http takes the Host header from here only
			continue
		}
		req.Header[http.CanonicalHeaderKey(h.name)] = []string{v}
	}
	return req, nil
}

// renderBody is the POST body: JSON, or a form when the content-type says so.
func (p *plan) renderBody(b bindings) ([]byte, error) {
	if p.form {
		return []byte(encodeParams(p.body, b)), nil
	}
	if p.json == nil {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(renderTree(p.json, b)); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderTree renders every template in a JSON tree to a string.
func renderTree(v any, b bindings) any {
	switch v := v.(type) {
	case template:
		return v.render(b.value, nil)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = renderTree(e, b)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = renderTree(e, b)
		}
		return out
	}
	return v
}

// encodeParams writes params as a query string (also the form body). A field that is
// not a string, such as a number or a nested object, is written as its JSON.
func encodeParams(params []param, b bindings) string {
	var sb strings.Builder
	for _, pr := range params {
		if sb.Len() > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(pr.key.render(b.value, nil)))
		if pr.bare {
			continue
		}
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(paramValue(renderTree(pr.value, b))))
	}
	return sb.String()
}

func paramValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}
