package gateway

import (
	"sync/atomic"
	"time"
)

// EventType names a hook point with EMQX's names.
type EventType string

const (
	ClientConnect       EventType = "client.connect"
	ClientConnack       EventType = "client.connack"
	ClientAuthenticate  EventType = "client.authenticate"
	ClientConnected     EventType = "client.connected"
	ClientDisconnected  EventType = "client.disconnected"
	ClientAuthorize     EventType = "client.authorize"
	ClientSubscribe     EventType = "client.subscribe"
	ClientUnsubscribe   EventType = "client.unsubscribe"
	SessionCreated      EventType = "session.created"
	SessionSubscribed   EventType = "session.subscribed"
	SessionUnsubscribed EventType = "session.unsubscribed"
	SessionTerminated   EventType = "session.terminated"
	MessagePublish      EventType = "message.publish"
	MessageDelivered    EventType = "message.delivered"
	MessageAcked        EventType = "message.acked"
	MessageDropped      EventType = "message.dropped"
)

// Event is what a hook receives. Fields that do not apply to its type are zero.
type Event struct {
	Type    EventType
	Time    time.Time
	Client  ClientInfo
	Topic   string   // subscribe/unsubscribe filter, or authorize topic (unmounted)
	QoS     byte     // subscribe QoS
	Allowed bool     // client.authorize, client.authenticate
	Reason  string   // connack/disconnected/terminated/dropped reason; "" = success
	Message *Message // message.* (read-only)
}

// Hooks are the observers of gateway events, registered by their owner before the Manager is
// built. They run synchronously on the client's (or publisher's) goroutine and must not
// block: anything slow goes through a bounded queue of its own.
type Hooks struct {
	OnClientConnect       []func(Event)
	OnClientConnack       []func(Event)
	OnClientAuthenticate  []func(Event)
	OnClientConnected     []func(Event)
	OnClientDisconnected  []func(Event)
	OnClientAuthorize     []func(Event)
	OnClientSubscribe     []func(Event)
	OnClientUnsubscribe   []func(Event)
	OnSessionCreated      []func(Event)
	OnSessionSubscribed   []func(Event)
	OnSessionUnsubscribed []func(Event)
	OnSessionTerminated   []func(Event)
	OnMessagePublish      []func(Event)
	OnMessageDelivered    []func(Event)
	OnMessageAcked        []func(Event)
	OnMessageDropped      []func(Event)
}

// list returns the observers of one event type.
func (h *Hooks) list(t EventType) []func(Event) {
	if h == nil {
		return nil
	}
	switch t {
	case ClientConnect:
		return h.OnClientConnect
	case ClientConnack:
		return h.OnClientConnack
	case ClientAuthenticate:
		return h.OnClientAuthenticate
	case ClientConnected:
		return h.OnClientConnected
	case ClientDisconnected:
		return h.OnClientDisconnected
	case ClientAuthorize:
		return h.OnClientAuthorize
	case ClientSubscribe:
		return h.OnClientSubscribe
	case ClientUnsubscribe:
		return h.OnClientUnsubscribe
	case SessionCreated:
		return h.OnSessionCreated
	case SessionSubscribed:
		return h.OnSessionSubscribed
	case SessionUnsubscribed:
		return h.OnSessionUnsubscribed
	case SessionTerminated:
		return h.OnSessionTerminated
	case MessagePublish:
		return h.OnMessagePublish
	case MessageDelivered:
		return h.OnMessageDelivered
	case MessageAcked:
		return h.OnMessageAcked
	case MessageDropped:
		return h.OnMessageDropped
	}
	return nil
}

// has reports whether anyone observes t, so hot paths can skip building the Event.
func (h *Hooks) has(t EventType) bool { return len(h.list(t)) > 0 }

func (h *Hooks) fire(e Event) {
	fns := h.list(e.Type)
	if len(fns) == 0 {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for _, fn := range fns {
		fn(e)
	}
}

// Counters are the live numbers of a gateway or of one listener.
type Counters struct {
	Connections atomic.Int64 // current
	Connects    atomic.Int64 // total successful logins
	MessagesIn  atomic.Int64 // published by clients
	MessagesOut atomic.Int64 // delivered to clients
	Dropped     atomic.Int64 // not delivered: full queues, unknown subscription, ...
	Malformed   atomic.Int64 // packets that could not be parsed (datagram protocols)
}

// CounterValues is a plain copy of Counters.
type CounterValues struct {
	Connections int64 `json:"current_connections"`
	Connects    int64 `json:"connects"`
	MessagesIn  int64 `json:"messages_in"`
	MessagesOut int64 `json:"messages_out"`
	Dropped     int64 `json:"messages_dropped"`
	Malformed   int64 `json:"packets_malformed"`
}

// Values reads the counters.
func (c *Counters) Values() CounterValues {
	return CounterValues{
		Connections: c.Connections.Load(),
		Connects:    c.Connects.Load(),
		MessagesIn:  c.MessagesIn.Load(),
		MessagesOut: c.MessagesOut.Load(),
		Dropped:     c.Dropped.Load(),
		Malformed:   c.Malformed.Load(),
	}
}
