// Package gateway is the protocol-neutral core of xgate: configuration, listeners, sessions,
// mountpoints, hooks and counters. Protocols implement Protocol and Session; everything they
// need from the core reaches them through Env.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/xgate/xgate/authn"
)

// ClientInfo is everything the core knows about one connected client.
type ClientInfo struct {
	authn.Client
	Mountpoint  string    `json:"mountpoint"` // already expanded for this client
	ProtoName   string    `json:"proto_name"` // "STOMP", "MQTT-SN", ...
	ProtoVer    string    `json:"proto_ver"`
	Keepalive   int       `json:"keepalive"` // seconds
	ConnectedAt time.Time `json:"connected_at"`
	// KeepSession is true for a session that outlives its connection (MQTT-SN
	// CleanSession=0); the API reports it as clean_start=false.
	KeepSession bool `json:"keep_session,omitempty"`
}

// Header is one user property of a message (a STOMP custom header, an MQTT 5 user property).
type Header struct {
	Key, Value string
}

// Message is a publication as it travels between gateways and the broker.
type Message struct {
	Topic       string
	Payload     []byte
	QoS         byte
	Retain      bool
	ContentType string   // MQTT 5 Content-Type property
	Headers     []Header // MQTT 5 user properties
	Expiry      uint32   // MQTT 5 Message-Expiry-Interval in seconds; 0 = none
}

// Session is one connected client; each protocol implements it.
type Session interface {
	Info() ClientInfo
	// Kick sends the protocol's goodbye (an ERROR frame, a DISCONNECT) and closes the
	// connection. It must not block and must be safe to call more than once.
	Kick(reason error)
}

// SubscriptionManager is implemented by the sessions of protocols whose clients the operator
// can subscribe and unsubscribe (EMQX's /gateways/{name}/clients/{clientid}/subscriptions),
// so that the protocol's own state (STOMP subscription ids, MQTT-SN topic ids) stays
// consistent with the core's. Both methods subscribe through the session's *Client, so
// authorization and hooks apply as for the client's own requests. Filters are unmounted.
// Errors other than ErrNotLoggedIn, ErrNoSubscription, ErrNotAuthorized and ctx's are
// written for the operator (the API answers 400 with their text); a denial must not
// disconnect the client, whatever deny_action says. The methods are called from the API's
// goroutines: like Kick they follow the session's own discipline (its lock, or an event for
// its goroutine), and never hold the session's lock while calling Client.Subscribe.
type SubscriptionManager interface {
	// AddSubscription subscribes filter at qos. subID is the protocol's subscription id
	// (STOMP requires one: its MESSAGE frames carry it); protocols without ids ignore it.
	AddSubscription(ctx context.Context, filter string, qos byte, subID string) error
	// RemoveSubscription ends the subscription to filter, or returns ErrNoSubscription.
	RemoveSubscription(ctx context.Context, filter string) error
}

// Broker is the embedded MQTT broker as gateways see it; protocols/mqtt implements it.
type Broker interface {
	// Publish hands a message to the broker. Authorization has already happened.
	Publish(m Message) error
	// Subscribe calls deliver for every message matching filter. deliver runs on the
	// publisher's goroutine and must never block.
	Subscribe(filter string, qos byte, deliver func(Message)) (cancel func(), err error)
}

// Transport is a listener type.
type Transport string

const (
	TCP  Transport = "tcp"
	SSL  Transport = "ssl"
	UDP  Transport = "udp"
	DTLS Transport = "dtls"
)

// Socket is a bound listener socket as a protocol receives it. Exactly one field is set.
// Stream listeners already enforce the listener's access rules and connection limits, and
// complete TLS/DTLS with the listener's current certificate.
type Socket struct {
	Stream net.Listener   // tcp, ssl, dtls
	Packet net.PacketConn // udp
}

// Protocol is all that protocols/<name> implements.
type Protocol interface {
	Name() string // "stomp", "mqttsn", "coap", "lwm2m"
	Transports() []Transport
	// ParseSettings strictly decodes and validates the protocol's own gateway fields (a JSON
	// object; empty means defaults). The result is handed back through Env.Settings.
	ParseSettings(raw json.RawMessage) (any, error)
	// Serve runs one listener until ctx is done or the socket is closed. On return every
	// goroutine it started has stopped and every connection it accepted is closed.
	Serve(ctx context.Context, s Socket, env *Env) error
}

// Errors with a wire meaning that the core hands to Session.Kick or returns from Env calls.
var (
	// ErrKicked is an operator's kick from the API or dashboard.
	ErrKicked = errors.New("Kicked out")
	// ErrDiscarded is a takeover: another login with the same clientid in this gateway.
	ErrDiscarded = errors.New("Discarded")
	// ErrShutdown means the listener or gateway is being stopped.
	ErrShutdown = errors.New("server shutdown")
	// ErrNotAuthorized is an authorization refusal of a publish or subscribe.
	ErrNotAuthorized = errors.New("not authorized")
	// ErrDenyDisconnect is a refusal after which the protocol must disconnect the client
	// (authorization deny_action = disconnect). It is also an ErrNotAuthorized.
	ErrDenyDisconnect = fmt.Errorf("%w, disconnecting (deny_action)", ErrNotAuthorized)
	// ErrExpired ends a client whose authentication expired (the authenticator's expire_at).
	ErrExpired = errors.New("expired")
	// ErrInvalidTopic is a publish to an empty topic or one with wildcards.
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrNotLoggedIn is returned for publish or subscribe before a successful Login.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrNoSubscription is returned by SubscriptionManager.RemoveSubscription for a filter
	// the client is not subscribed to.
	ErrNoSubscription = errors.New("subscription not found")
)
