package mqtt

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/gateway"
)

const (
	// reservedPrefix starts the client ids the broker uses for itself; MQTT clients may not
	// use them, so that none can collide with the inline publisher or a shared member.
	reservedPrefix     = "$xgate/"
	inlineClientID     = reservedPrefix + "inline"
	sharedMemberPrefix = reservedPrefix + "share/"

	// authTimeout bounds one authentication, so that a hung authenticator cannot hold a
	// connection forever; the client has usually given up long before.
	authTimeout = 10 * time.Second
)

// SetAuthenticator sets the function that decides every MQTT CONNECT from now on; a non-nil
// error refuses the connection with mochi's only refusal, CONNACK 0x86 "bad username or
// password" (0x05 "not authorized" for MQTT 3).
// It may set c.Attrs and c.IsSuperuser, which the authorizer then sees. nil allows everyone.
func (b *Broker) SetAuthenticator(f func(ctx context.Context, c *authn.Client) error) {
	if f == nil {
		b.hook.authenticate.Store(nil)
		return
	}
	b.hook.authenticate.Store(&f)
}

// SetAuthorizer sets the rules checked from now on for every MQTT client publish (Publish),
// subscribe (Subscribe, with the filter as sent) and delivery (Subscribe, with the topic).
// The *authn.Client it gets is shared by concurrent calls and must not be modified. nil allows
// everything. Messages published through Broker.Publish are not checked.
func (b *Broker) SetAuthorizer(a authn.Authorizer) {
	if a == nil {
		b.hook.authorize.Store(nil)
		return
	}
	b.hook.authorize.Store(&a)
}

// hook is the broker's one permanent mochi hook. mochi cannot remove hooks, so what may change
// at run time sits behind atomic pointers.
type hook struct {
	mochi.HookBase
	log *slog.Logger
	ctx context.Context // cancelled by Broker.Close

	authenticate atomic.Pointer[func(context.Context, *authn.Client) error]
	authorize    atomic.Pointer[authn.Authorizer]

	// clients maps each authenticated *mochi.Client to the authn.Client its authenticator
	// returned, so that authorization sees the attributes set at login. Entries go at
	// disconnect, or at session expiry for the rare connection that failed after login.
	clients sync.Map
	// shared maps the id of each inline member of a shared subscription to its *sharedMember.
	shared sync.Map
}

// sharedMember is an inline subscription to a $share/group/filter.
type sharedMember struct {
	qos     byte
	deliver func(gateway.Message)
}

func newHook(ctx context.Context, log *slog.Logger) *hook {
	return &hook{log: log, ctx: ctx}
}

func (h *hook) ID() string { return "xgate" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnDisconnect,
		mochi.OnClientExpired, mochi.OnSelectSubscribers:
		return true
	}
	return false
}

// OnConnectAuthenticate runs the authenticator for a CONNECT.
func (h *hook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	c := newAuthnClient(cl)
	c.Password = pk.Connect.Password
	log := h.log.With("clientid", c.ClientID, "username", c.Username, "peer", c.Peer)
	if c.ClientID == mochi.InlineClientId || strings.HasPrefix(c.ClientID, reservedPrefix) {
		// A client named like mochi's inline client would take its session over.
		log.Warn("mqtt client refused: reserved client id")
		return false
	}
	if f := h.authenticate.Load(); f != nil {
		ctx, cancel := context.WithTimeout(h.ctx, authTimeout)
		err := (*f)(ctx, c)
		cancel()
		if err != nil {
			log.Info("mqtt client refused", "error", err)
			return false
		}
	}
	c.Password = nil // authorization has no use for it
	h.clients.Store(cl, c)
	log.Debug("mqtt client authenticated")
	return true
}

// OnACLCheck runs the authorizer; write is a publish, otherwise a subscribe or a delivery.
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	a := h.authorize.Load()
	if a == nil {
		return true
	}
	act := authn.Subscribe
	if write {
		act = authn.Publish
	}
	c, ok := h.clients.Load(cl)
	if !ok {
		// An offline persistent session getting a delivery: what its authenticator returned
		// is gone with the connection.
		c = newAuthnClient(cl)
	}
	ac := c.(*authn.Client)
	if ac.IsSuperuser {
		return true
	}
	// mochi's ACL check does not carry the packet, so rules with a qos or retain
	// condition see QoS 0 and retain false for MQTT clients.
	// h.ctx ends with the broker; an HTTP source bounds its requests by request_timeout.
	v := (*a).Authorize(h.ctx, ac, authn.Request{Action: act, Topic: topic})
	if v.Allowed {
		return true
	}
	h.log.Debug("mqtt client not authorized", "clientid", cl.ID, "action", act.String(), "topic", topic)
	return false
}

func (h *hook) OnDisconnect(cl *mochi.Client, err error, _ bool) {
	h.clients.Delete(cl)
	h.log.Debug("mqtt client disconnected", "clientid", cl.ID, "peer", cl.Net.Remote, "error", err)
}

func (h *hook) OnClientExpired(cl *mochi.Client) {
	h.clients.Delete(cl)
}

// OnSelectSubscribers picks one member of every shared subscription group matching a publish.
// mochi keeps inline subscriptions out of shared groups, so inline members are registered as
// pseudo clients under sharedMemberPrefix; when one of them is picked, it is delivered to here
// and its group removed, and mochi's own selection only sees network clients.
func (h *hook) OnSelectSubscribers(subs *mochi.Subscribers, pk packets.Packet) *mochi.Subscribers {
	if subs.SharedSelected == nil {
		subs.SharedSelected = map[string]packets.Subscription{}
	}
	for filter, members := range subs.Shared {
		delete(subs.Shared, filter)
		if excluded(shareFilter(filter), pk.TopicName) {
			continue
		}
		id, sub := pick(members)
		if m, ok := h.shared.Load(id); ok {
			m := m.(*sharedMember)
			m.deliver(toMessage(pk, m.qos))
			continue
		}
		if cur, ok := subs.SharedSelected[id]; ok {
			sub = cur.Merge(sub)
		}
		subs.SharedSelected[id] = sub
	}
	return subs
}

// pick returns a uniformly random member of a shared group.
func pick(members map[string]packets.Subscription) (string, packets.Subscription) {
	n := rand.IntN(len(members))
	for id, sub := range members {
		if n == 0 {
			return id, sub
		}
		n--
	}
	return "", packets.Subscription{}
}

// shareFilter returns the topic filter of a $share/group/filter subscription.
func shareFilter(filter string) string {
	parts := strings.SplitN(filter, "/", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

// excluded reports whether topic must not match filter because topics starting with $ do
// not match filters starting with a wildcard [MQTT-4.7.2-1]. mochi applies this to network
// subscriptions only.
func excluded(filter, topic string) bool {
	return topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#')
}

// newAuthnClient describes a mochi client for authentication and authorization.
func newAuthnClient(cl *mochi.Client) *authn.Client {
	return &authn.Client{
		ClientID: cl.ID,
		Username: string(cl.Properties.Username),
		Peer:     peer(cl.Net.Remote),
		Protocol: "mqtt",
		Gateway:  "mqtt",
		Listener: listenerName(cl.Net.Listener),
	}
}

// listenerName is the authn listener id of a mochi listener, without allocating for ours.
func listenerName(id string) string {
	switch id {
	case ListenerTCP:
		return "mqtt:" + ListenerTCP
	case ListenerWS:
		return "mqtt:" + ListenerWS
	}
	return "mqtt:" + id
}

// peer parses a remote address, unmapping IPv4-in-IPv6 so that rules on IPv4 ranges match.
func peer(remote string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
