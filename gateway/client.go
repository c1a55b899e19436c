package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xgate/xgate/authn"
)

// Client is one logged-in client as the core tracks it. Protocols get it from Env.Login and
// publish and subscribe through it, so that mountpoint, authorization, hooks and counters
// apply to every protocol alike.
type Client struct {
	rt   *Runtime
	l    *listener
	s    Session
	info ClientInfo // fixed at login

	// Per-client message counts, counted where the gateway's and listener's are.
	messagesIn  atomic.Int64
	messagesOut atomic.Int64
	dropped     atomic.Int64

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	stopped bool
	expiry  *time.Timer // ends the client at its authentication's expire_at
}

// Info returns the client's ClientInfo as established at login.
func (c *Client) Info() ClientInfo { return c.info }

// Session returns the protocol session behind the client.
func (c *Client) Session() Session { return c.s }

// ClientCounters are one client's message counts (the API's recv_msg, send_msg and
// mqueue_dropped).
type ClientCounters struct {
	MessagesIn  int64 // published by the client
	MessagesOut int64 // delivered to the client
	Dropped     int64 // not delivered
}

// Counters reads the client's message counts.
func (c *Client) Counters() ClientCounters {
	return ClientCounters{MessagesIn: c.messagesIn.Load(), MessagesOut: c.messagesOut.Load(), Dropped: c.dropped.Load()}
}

// Publish authorizes and publishes a message from the client. The topic is the client's
// own (unmounted) topic.
func (c *Client) Publish(m Message) error {
	if c.isStopped() {
		return ErrNotLoggedIn
	}
	if !ValidTopic(m.Topic) {
		return fmt.Errorf("publish %s: %w", m.Topic, ErrInvalidTopic)
	}
	if err := c.authorize(authn.Request{Action: authn.Publish, Topic: m.Topic, QoS: m.QoS, Retain: m.Retain}); err != nil {
		return err
	}
	m.Topic = Mount(c.info.Mountpoint, m.Topic)
	if strings.HasPrefix(m.Topic, "$") {
		// $SYS and other $ topics belong to the broker ([MQTT-4.7.2-1]); the inline
		// publisher would otherwise let any gateway client write them.
		return fmt.Errorf("publish %s: %w", m.Topic, ErrInvalidTopic)
	}
	c.messagesIn.Add(1)
	c.l.counters.MessagesIn.Add(1)
	c.rt.counters.MessagesIn.Add(1)
	if c.rt.hooks.has(MessagePublish) {
		c.rt.hooks.fire(Event{Type: MessagePublish, Client: c.info, Topic: m.Topic, Message: &m})
	}
	if err := c.rt.broker.Publish(m); err != nil {
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	return nil
}

// ValidTopic reports whether topic can be published to: non-empty, no wildcards, no NUL,
// and at most 65535 bytes (MQTT's limit).
func ValidTopic(topic string) bool {
	return topic != "" && len(topic) <= 65535 && !strings.ContainsAny(topic, "+#\x00")
}

// Subscription is one active subscription of a client.
type Subscription struct {
	c      *Client
	Filter string // as the client gave it (unmounted)
	QoS    byte
	cancel func()
	once   sync.Once
}

// Subscribe authorizes the filter and subscribes it on the broker. deliver receives each
// message with its topic unmounted; it runs on the publisher's goroutine, so it must not
// block, and returns false when it dropped the message (a full queue).
func (c *Client) Subscribe(filter string, qos byte, deliver func(Message) bool) (*Subscription, error) {
	if c.isStopped() {
		return nil, ErrNotLoggedIn
	}
	c.rt.hooks.fire(Event{Type: ClientSubscribe, Client: c.info, Topic: filter, QoS: qos})
	if err := c.authorize(authn.Request{Action: authn.Subscribe, Topic: filter, QoS: qos}); err != nil {
		return nil, err
	}
	mp := c.info.Mountpoint
	rt, l := c.rt, c.l
	info := c.info
	cancel, err := rt.broker.Subscribe(Mount(mp, filter), qos, func(m Message) {
		m.Topic = Unmount(mp, m.Topic)
		if deliver(m) {
			c.messagesOut.Add(1)
			l.counters.MessagesOut.Add(1)
			rt.counters.MessagesOut.Add(1)
			if rt.hooks.has(MessageDelivered) {
				rt.hooks.fire(Event{Type: MessageDelivered, Client: info, Topic: m.Topic, Message: &m})
			}
			return
		}
		c.Dropped(m, "queue_full")
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", filter, err)
	}
	sub := &Subscription{c: c, Filter: filter, QoS: qos, cancel: cancel}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		cancel()
		return nil, ErrNotLoggedIn
	}
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	rt.hooks.fire(Event{Type: SessionSubscribed, Client: c.info, Topic: filter, QoS: qos})
	return sub, nil
}

// Unsubscribe cancels the subscription; later calls do nothing.
func (s *Subscription) Unsubscribe() {
	s.once.Do(func() {
		s.cancel()
		c := s.c
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
		c.rt.hooks.fire(Event{Type: ClientUnsubscribe, Client: c.info, Topic: s.Filter})
		c.rt.hooks.fire(Event{Type: SessionUnsubscribed, Client: c.info, Topic: s.Filter})
	})
}

// Subscriptions lists the client's active subscriptions, ordered by filter.
func (c *Client) Subscriptions() []*Subscription {
	c.mu.Lock()
	out := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		out = append(out, s)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Filter < out[j].Filter })
	return out
}

// SubscriptionCount is the number of the client's active subscriptions.
func (c *Client) SubscriptionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

// Dropped counts a message the protocol could not deliver and fires message.dropped.
func (c *Client) Dropped(m Message, reason string) {
	c.dropped.Add(1)
	c.l.counters.Dropped.Add(1)
	c.rt.counters.Dropped.Add(1)
	if c.rt.hooks.has(MessageDropped) {
		c.rt.hooks.fire(Event{Type: MessageDropped, Client: c.info, Topic: m.Topic, Message: &m, Reason: reason})
	}
}

// Acked fires message.acked for a message the client acknowledged.
func (c *Client) Acked(m Message) {
	if c.rt.hooks.has(MessageAcked) {
		c.rt.hooks.fire(Event{Type: MessageAcked, Client: c.info, Topic: m.Topic, Message: &m})
	}
}

// Logout ends the client: its subscriptions are cancelled, it leaves the clientid registry
// (unless another login took the clientid over), and client.disconnected and
// session.terminated fire. Calling it again does nothing.
func (c *Client) Logout(reason error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	subs := c.subs
	c.subs = nil
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
	for s := range subs {
		s.once.Do(s.cancel)
	}
	c.rt.registry.remove(c)
	c.l.counters.Connections.Add(-1)
	c.rt.counters.Connections.Add(-1)
	why := "normal"
	if reason != nil {
		why = reason.Error()
	}
	c.rt.hooks.fire(Event{Type: ClientDisconnected, Client: c.info, Reason: why})
	c.rt.hooks.fire(Event{Type: SessionTerminated, Client: c.info, Reason: why})
	c.rt.sysEvent(c.info, "disconnected", why)
	c.rt.log.Debug("client logged out", "clientid", c.info.ClientID, "listener", c.info.Listener, "reason", why)
}

func (c *Client) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// authorize asks the global authorizer (superusers bypass it) and fires client.authorize.
// The error is nil, ErrNotAuthorized or ErrDenyDisconnect.
func (c *Client) authorize(r authn.Request) error {
	v := authn.Verdict{Allowed: true, Source: "superuser", Rule: -1}
	if !c.info.IsSuperuser {
		// No deadline here: a source that waits on the network (HTTP) bounds each request
		// by its own request_timeout, and rules need none (this is the publish hot path).
		v = c.rt.authorizer.Authorize(context.Background(), &c.info.Client, r)
	}
	if c.rt.hooks.has(ClientAuthorize) {
		c.rt.hooks.fire(Event{Type: ClientAuthorize, Client: c.info, Topic: r.Topic, QoS: r.QoS,
			Allowed: v.Allowed, Reason: r.Action.String() + " by " + v.Source})
	}
	switch {
	case v.Allowed:
		return nil
	case v.Disconnect:
		return ErrDenyDisconnect
	}
	return ErrNotAuthorized
}

// registry maps clientids to the logged-in clients of one gateway.
type registry struct {
	mu      sync.Mutex
	clients map[string]*Client
}

// put registers c and returns the client it replaces, if any.
func (r *registry) put(c *Client) *Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.clients[c.info.ClientID]
	r.clients[c.info.ClientID] = c
	return old
}

// remove unregisters c unless its clientid now belongs to a newer login.
func (r *registry) remove(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clients[c.info.ClientID] == c {
		delete(r.clients, c.info.ClientID)
	}
}

func (r *registry) get(clientID string) *Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clients[clientID]
}

func (r *registry) all() []*Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Client, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c)
	}
	return out
}

// sysEvent publishes EMQX's gateway client event:
// $SYS/brokers/<node>/gateway/<protocol>/clients/<clientid>/connected|disconnected.
func (rt *Runtime) sysEvent(ci ClientInfo, what, reason string) {
	payload := map[string]any{
		"clientid":     ci.ClientID,
		"username":     ci.Username,
		"ipaddress":    ci.Peer.Addr().Unmap().String(),
		"sockport":     rt.listenerPort(ci.Listener),
		"protocol":     ci.Protocol,
		"proto_name":   ci.ProtoName,
		"proto_ver":    ci.ProtoVer,
		"keepalive":    ci.Keepalive,
		"mountpoint":   ci.Mountpoint,
		"connected_at": ci.ConnectedAt.UnixMilli(),
		"ts":           time.Now().UnixMilli(),
	}
	if what == "disconnected" {
		payload["reason"] = reason
		payload["disconnected_at"] = time.Now().UnixMilli()
	}
	b, _ := json.Marshal(payload)
	topic := "$SYS/brokers/" + rt.node + "/gateway/" + ci.Protocol + "/clients/" + ci.ClientID + "/" + what
	if err := rt.broker.Publish(Message{Topic: topic, Payload: b}); err != nil {
		rt.log.Warn("publish $SYS event", "topic", topic, "error", err)
	}
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomClientID is a 16-character base62 clientid, as EMQX gives clients that bring none.
func RandomClientID() string {
	var b [16]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}
