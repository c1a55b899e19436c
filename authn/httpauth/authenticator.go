package httpauth

import (
	"context"
	"log/slog"
	"maps"
	"time"
	"unicode/utf8"

	"github.com/xgate/xgate/authn"
)

// Authenticator asks an HTTP server whether a client may connect. It is safe for
// concurrent use.
type Authenticator struct {
	enable bool
	ep     *endpoint
	log    *slog.Logger
}

var _ authn.Authenticator = (*Authenticator)(nil)

// New builds an authenticator: it validates cfg, parses its templates and reads its TLS
// files. No connection is made until the first request.
func New(cfg Config, log *slog.Logger) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ep, err := newEndpoint(cfg.Endpoint, authnVars())
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{enable: cfg.Enable, ep: ep, log: log}, nil
}

// Authenticate sends one request about c. When the server allows, c gets its
// is_superuser, client_attrs and expire_at. A server that cannot be asked (timeout,
// transport error, unexpected answer) means Ignore; the error is non-nil only when ctx
// itself ended, and then nobody is waiting for the answer.
func (a *Authenticator) Authenticate(ctx context.Context, c *authn.Client) (authn.Decision, error) {
	if !a.enable {
		return authn.Ignore, nil
	}
	r, err := a.ep.exchange(ctx, bindings{c: c})
	if err != nil {
		if ctx.Err() != nil {
			return authn.Ignore, ctx.Err()
		}
		a.log.Warn("http authentication request failed", "url", a.ep.plan.logURL,
			"status", r.status, "clientid", c.ClientID, "username", c.Username, "error", err)
		return authn.Ignore, nil
	}
	o := authnOutcome(r, time.Now())
	if o.problem != "" {
		a.log.Log(ctx, o.level, "http authentication answer not usable", "url", a.ep.plan.logURL,
			"status", r.status, "clientid", c.ClientID, "username", c.Username, "error", o.problem)
	}
	if o.decision == authn.Allow {
		apply(c, o)
	}
	return o.decision, nil
}

// apply gives c what the server said about it.
func apply(c *authn.Client, o outcome) {
	c.IsSuperuser = o.superuser
	if len(o.attrs) > 0 {
		if c.Attrs == nil {
			c.Attrs = make(map[string]string, len(o.attrs))
		}
		maps.Copy(c.Attrs, o.attrs)
	}
	if !o.expireAt.IsZero() {
		c.ExpireAt = o.expireAt
	}
}

// Close releases idle connections. The authenticator stays usable.
func (a *Authenticator) Close() { a.ep.close() }

// ProbeResult is what the dashboard's "test this authenticator" shows.
type ProbeResult struct {
	Status   int    // 0 when no answer came
	Body     string // the first 2 KiB of the answer
	Decision authn.Decision
	Err      string // why the answer could not be used, if so
	Elapsed  time.Duration
}

// maxProbeBody is how much of an answer the dashboard shows.
const maxProbeBody = 2 << 10

// Probe sends one real request about c, even when the authenticator is disabled, and
// reports what came back. c is not changed. Nothing returned carries the password
// unless the server echoes it in its body.
func (a *Authenticator) Probe(ctx context.Context, c *authn.Client) ProbeResult {
	probe := *c
	probe.Attrs = maps.Clone(c.Attrs)
	r, err := a.ep.exchange(ctx, bindings{c: &probe})
	res := ProbeResult{Status: r.status, Body: truncateUTF8(r.body, maxProbeBody), Elapsed: r.elapsed}
	if err != nil {
		res.Err = err.Error()
		return res
	}
	o := authnOutcome(r, time.Now())
	res.Decision = o.decision
	res.Err = o.problem
	return res
}

// truncateUTF8 returns at most n bytes of b as a string, not cutting a character in two.
func truncateUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[:n]
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size > 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return string(b)
}
