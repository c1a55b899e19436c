package httpauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBody bounds what is read of an answer: authentication answers are small,
// and a misbehaving server must not make the gateway buffer megabytes per login.
const maxResponseBody = 64 << 10

// idleTimeout matches the keep-alive header sent, "timeout=30".
const idleTimeout = 30 * time.Second

// endpoint sends requests built from a plan over its own pooled client.
type endpoint struct {
	plan   *plan
	client *http.Client
}

// reply is what was read of the server's answer.
type reply struct {
	status      int
	contentType string
	body        []byte
	elapsed     time.Duration
}

// newEndpoint compiles e and opens nothing yet: connections are made on first use.
func newEndpoint(e Endpoint, vars []string) (*endpoint, error) {
	p, err := e.compile(vars)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{KeepAlive: idleTimeout}
	tr := &http.Transport{
		// Authentication servers are reached directly, as EMQX does: a proxy from the
		// environment would see every password.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        e.PoolSize,
		MaxIdleConnsPerHost: e.PoolSize,
		IdleConnTimeout:     idleTimeout,
		// The server sees exactly the configured headers, as with EMQX.
		DisableCompression: true,
	}
	if e.SSL.Enable {
		// Files are read even for an http URL, so a bad path is reported when the
		// authenticator is built rather than when the URL is changed later.
		u, _ := url.Parse(p.base)
		ct, err := loadTLS(e.SSL, u.Hostname())
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = ct.config
		if ct.noSNI {
			tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialTLS(ctx, dialer, ct.config, network, addr)
			}
		}
	}
	client := &http.Client{
		Transport: tr,
		// A redirect is an answer like any other non-200 status (ignore), and following
		// it could send the password elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &endpoint{plan: p, client: client}, nil
}

func dialTLS(ctx context.Context, d *net.Dialer, cfg *tls.Config, network, addr string) (net.Conn, error) {
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// exchange sends one request and reads the answer, all within the request timeout. Its
// errors never carry the URL's query or the password; a reply with a status may come
// with an error when the body could not be read.
func (e *endpoint) exchange(ctx context.Context, b bindings) (reply, error) {
	start := time.Now()
	reqCtx, cancel := context.WithTimeout(ctx, e.plan.timeout)
	defer cancel()
	req, err := e.plan.newRequest(reqCtx, b)
	if err != nil {
		return reply{}, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{elapsed: time.Since(start)}, e.describe(ctx, reqCtx, err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	r.elapsed = time.Since(start)
	r.body = body[:min(len(body), maxResponseBody)]
	if err != nil {
		return r, e.describe(ctx, reqCtx, err)
	}
	if len(body) > maxResponseBody {
		return r, fmt.Errorf("response body over %d KiB", maxResponseBody>>10)
	}
	return r, nil
}

// describe turns a transport error into one that is safe to log: *url.Error would
// repeat the whole URL, query and all.
func (e *endpoint) describe(parent, reqCtx context.Context, err error) error {
	if parent.Err() == nil && errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", e.plan.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// close releases idle connections.
func (e *endpoint) close() { e.client.CloseIdleConnections() }
