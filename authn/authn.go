// Package authn holds what authentication and authorization see of a client, and the
// interfaces every gateway calls through the core. It is a leaf package: it imports nothing
// of xgate.
package authn

import (
	"context"
	"errors"
	"net/netip"
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

// Authorizer is the global topic rule set, applied to every gateway's clients.
type Authorizer interface {
	Authorize(c *Client, act Action, topic string) bool
}

// AllowAll is the authorizer used when no rules are configured.
type AllowAll struct{}

// Authorize allows everything.
func (AllowAll) Authorize(*Client, Action, string) bool { return true }
