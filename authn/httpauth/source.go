package httpauth

import (
	"context"
	"log/slog"

	"github.com/xgate/xgate/authn"
)

// Source is the HTTP authorization source: it asks a server whether a client may
// publish or subscribe. It is safe for concurrent use.
type Source struct {
	enable bool
	ep     *endpoint
	log    *slog.Logger
}

var _ authn.Source = (*Source)(nil)

// NewSource builds an authorization source: it validates cfg, parses its templates and
// reads its TLS files. No connection is made until the first request.
func NewSource(cfg AuthzConfig, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ep, err := newEndpoint(cfg.Endpoint, authzVars())
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{enable: cfg.Enable, ep: ep, log: log}, nil
}

// Check sends one request about c doing r. The index is always -1: the server's rules
// are not ours to number. A server that cannot be asked means Ignore; the error is
// non-nil only when ctx itself ended.
func (s *Source) Check(ctx context.Context, c *authn.Client, r authn.Request) (authn.Decision, int, error) {
	if !s.enable {
		return authn.Ignore, -1, nil
	}
	rep, err := s.ep.exchange(ctx, bindings{c: c, r: &r})
	if err != nil {
		if ctx.Err() != nil {
			return authn.Ignore, -1, ctx.Err()
		}
		s.log.Warn("http authorization request failed", "url", s.ep.plan.logURL,
			"status", rep.status, "clientid", c.ClientID, "topic", r.Topic, "error", err)
		return authn.Ignore, -1, nil
	}
	o := authzOutcome(rep)
	if o.problem != "" {
		s.log.Log(ctx, o.level, "http authorization answer not usable", "url", s.ep.plan.logURL,
			"status", rep.status, "clientid", c.ClientID, "topic", r.Topic, "error", o.problem)
	}
	return o.decision, -1, nil
}

// Close releases idle connections. The source stays usable.
func (s *Source) Close() { s.ep.close() }
