// Package authn holds what authentication and authorization see of a client, and the
// interfaces every gateway calls through the core. It is a leaf package: it imports nothing
// of xgate.
package authn

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Client is the generic part of a gateway's ClientInfo: the fields authenticators and
// authorization rules are evaluated against.
type Client struct {
	ClientID string `json:"clientid"`
	Username string `json:"username"`
	Password []byte `json:"-"`
	Peer     netip.AddrPort
	Protocol string `json:"protocol"` // "stomp", "mqtt-sn", "coap", "lwm2m"
	Gateway  string `json:"gateway"`
	Listener string `json:"listener"` // listener id, e.g. "stomp:tcp:default"
	// Attrs are protocol fields ("endpoint_name", "lifetime") and client attributes
	// returned by an authenticator.
	Attrs       map[string]string `json:"attrs,omitempty"`
	IsSuperuser bool              `json:"is_superuser"`
	// CertCommonName and CertSubject describe a TLS client certificate, when there is one.
	CertCommonName string `json:"cert_common_name,omitempty"`
	CertSubject    string `json:"cert_subject,omitempty"`
	// ExpireAt, set by an authenticator, is when the login stops being valid: the
	// connection is closed then. Zero means never.
	ExpireAt time.Time `json:"-"`
}

// Decision is an authenticator's or an authorization source's answer.
type Decision int

const (
	Ignore Decision = iota // no opinion: ask the next one
	Allow
	Deny
)

// ErrNotAuthorized is returned when a client is refused at login; its text is what EMQX
// reports in protocol answers ("Login Failed: not_authorized").
var ErrNotAuthorized = errors.New("not_authorized")

// Authenticator decides whether a client may connect.
type Authenticator interface {
	Authenticate(ctx context.Context, c *Client) (Decision, error)
}

// Chain asks its authenticators in order; the first one that does not ignore decides.
// An empty chain allows everyone; a chain whose members all ignore the client denies it.
type Chain []Authenticator

// Authenticate runs the chain. A nil error means the client is allowed.
func (ch Chain) Authenticate(ctx context.Context, c *Client) error {
	if len(ch) == 0 {
		return nil
	}
	for _, a := range ch {
		d, err := a.Authenticate(ctx, c)
		if err != nil {
			return err
		}
		switch d {
		case Allow:
			return nil
		case Deny:
			return ErrNotAuthorized
		}
	}
	return ErrNotAuthorized
}

// Action is what a client wants to do with a topic.
type Action int

const (
	Publish Action = iota + 1
	Subscribe
)

func (a Action) String() string {
	switch a {
	case Publish:
		return "publish"
	case Subscribe:
		return "subscribe"
	}
	return "unknown"
}

// Request is one publish or subscribe to authorize. For a subscribe, Topic is the filter
// and QoS the requested maximum.
type Request struct {
	Action Action
	Topic  string
	QoS    byte
	Retain bool
}

// Source is one authorization source (the rule list, an HTTP server): Allow, Deny, or
// Ignore to let the next source decide. Index is the deciding rule's position when the
// source has rules, else -1.
type Source interface {
	Check(ctx context.Context, c *Client, r Request) (d Decision, index int, err error)
}

// Verdict is the authorization answer for one request.
type Verdict struct {
	Allowed bool
	// Disconnect asks the gateway to close the client after a denial (deny_action).
	Disconnect bool
	// Source names what decided ("rules", "http", "no_match", "superuser"); Rule is the
	// deciding rule's position in the rule list, -1 when no rule decided.
	Source string
	Rule   int
}

// Authorizer is the global authorization, applied to every gateway's clients.
type Authorizer interface {
	Authorize(ctx context.Context, c *Client, r Request) Verdict
}

// AllowAll is the authorizer used when none is configured.
type AllowAll struct{}

// Authorize allows everything.
func (AllowAll) Authorize(context.Context, *Client, Request) Verdict {
	return Verdict{Allowed: true, Source: "no_match", Rule: -1}
}
