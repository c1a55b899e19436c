package coap

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/gateway"
)

// codeNoContent is EMQX's (non-standard) 2.07 answer to an Observe=1 deregistration.
const codeNoContent codes.Code = 71

// maxObserveSeq is where the Observe sequence wraps (RFC 7641 §3.4: 24 bits).
const maxObserveSeq = 1<<24 - 1

// channel is one CoAP client: a UDP peer or a DTLS session (connection mode: the session
// of a clientid, which may move to a new address with its token).
type channel struct {
	srv *server

	mu        sync.Mutex
	cc        *udpclient.Conn
	client    *gateway.Client
	info      gateway.ClientInfo
	token     string // connection mode
	observers map[string]*observer
	queue     []notification
	running   bool
	ended     bool
}

type observer struct {
	filter string
	token  []byte
	qos    byte
	seq    uint32
	sub    *gateway.Subscription
	last   []byte // payload of the latest notification, for Block2 continuations
}

type notification struct {
	obs *observer
	msg gateway.Message
}

func newChannel(srv *server, cc *udpclient.Conn) *channel {
	ch := &channel{srv: srv, cc: cc, observers: map[string]*observer{}}
	ch.info.Peer = gateway.AddrPort(cc.RemoteAddr())
	return ch
}

func (ch *channel) conn() *udpclient.Conn {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.cc
}

func (ch *channel) observing() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return len(ch.observers) > 0
}

// Info implements gateway.Session.
func (ch *channel) Info() gateway.ClientInfo {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.info
}

// Kick implements gateway.Session: CoAP has no goodbye; the channel just ends.
func (ch *channel) Kick(reason error) {
	ch.end(reason)
	ch.conn().Close()
}

// end logs the client out and drops its observations. Calling it again does nothing.
func (ch *channel) end(reason error) {
	ch.mu.Lock()
	if ch.ended {
		ch.mu.Unlock()
		return
	}
	ch.ended = true
	c, obs := ch.client, ch.observers
	ch.observers = map[string]*observer{}
	ch.queue = nil
	clientID := ch.info.ClientID
	ch.mu.Unlock()
	for _, o := range obs {
		o.sub.Unsubscribe()
	}
	if c != nil {
		c.Logout(reason)
	}
	ch.srv.mu.Lock()
	if ch.srv.byClient[clientID] == ch {
		delete(ch.srv.byClient, clientID)
	}
	ch.srv.mu.Unlock()
}

// request is one decoded CoAP request.
type request struct {
	w     mux.ResponseWriter
	r     *mux.Message
	path  []string // URI-Path segments, URI-decoded
	query map[string]string
	st    Settings
	cc    *udpclient.Conn
	ch    *channel
	isCON bool
}

// longQueryName expands EMQX's short query names (5.9+).
func longQueryName(k string) string {
	switch k {
	case "c":
		return "clientid"
	case "t":
		return "token"
	case "u":
		return "username"
	case "p":
		return "password"
	case "q":
		return "qos"
	case "r":
		return "retain"
	}
	return k
}

func (srv *server) handle(w mux.ResponseWriter, r *mux.Message) {
	cc, ok := w.Conn().(*udpclient.Conn)
	if !ok {
		return
	}
	req := &request{w: w, r: r, st: srv.settings(), cc: cc, query: map[string]string{}, isCON: r.Type() == message.Confirmable}
	for _, o := range r.Options() {
		if o.ID == message.URIPath {
			seg := string(o.Value)
			if dec, err := url.PathUnescape(seg); err == nil {
				seg = dec // EMQX decodes again: "%23" in a segment is "#"
			}
			req.path = append(req.path, seg)
		}
	}
	if qs, err := r.Options().Queries(); err == nil {
		for _, q := range qs {
			k, v, _ := strings.Cut(q, "=")
			k = longQueryName(k)
			if dec, err := url.QueryUnescape(v); err == nil {
				v = dec
			}
			if _, dup := req.query[k]; !dup {
				req.query[k] = v
			}
		}
	}
	switch {
	case len(req.path) == 2 && req.path[0] == "mqtt" && req.path[1] == "connection":
		srv.connection(req)
	case len(req.path) >= 1 && req.path[0] == "ps":
		srv.pubsub(req)
	default:
		reply(w, codes.BadRequest, "bad request: unknown path")
	}
}

// reply answers with a code and an optional text payload (EMQX's error texts).
func reply(w mux.ResponseWriter, code codes.Code, text string) {
	if text == "" {
		w.SetResponse(code, message.TextPlain, nil)
		return
	}
	w.SetResponse(code, message.TextPlain, bytes.NewReader([]byte(text)))
}

// connection serves /mqtt/connection (connection mode): POST logs in and returns a token,
// PUT is a heartbeat, DELETE logs out.
func (srv *server) connection(req *request) {
	switch req.r.Code() {
	case codes.POST:
		clientID := req.query["clientid"]
		if clientID == "" {
			reply(req.w, codes.BadRequest, "Login Failed: clientid is required")
			return
		}
		ch := srv.channel(req.cc)
		if ch.loggedIn() {
			reply(req.w, codes.BadRequest, "Bad Request: client has connected")
			return
		}
		if err := ch.login(req, clientID); err != nil {
			reply(req.w, codes.BadRequest, "Login Failed: "+err.Error())
			return
		}
		token := newToken()
		ch.mu.Lock()
		ch.token = token
		ch.mu.Unlock()
		srv.mu.Lock()
		srv.byClient[clientID] = ch
		srv.mu.Unlock()
		reply(req.w, codes.Created, token)
	case codes.PUT:
		if srv.connected(req) != nil {
			reply(req.w, codes.Changed, "")
		}
	case codes.DELETE:
		if ch := srv.connected(req); ch != nil {
			ch.end(nil)
			srv.mu.Lock()
			delete(srv.channels, req.cc)
			srv.mu.Unlock()
			reply(req.w, codes.Deleted, "")
		}
	default:
		reply(req.w, codes.MethodNotAllowed, "")
	}
}

// disconnectIfDenied ends the channel after a refusal with deny_action = disconnect: its
// client is logged out (a connection-mode token stops working) and the peer's next request
// starts a new channel.
func (srv *server) disconnectIfDenied(ch *channel, cc *udpclient.Conn, err error) {
	if !errors.Is(err, gateway.ErrDenyDisconnect) {
		return
	}
	ch.end(err)
	srv.mu.Lock()
	if srv.channels[cc] == ch {
		delete(srv.channels, cc)
	}
	srv.mu.Unlock()
}

// connected checks the clientid and token of a connection-mode request and returns the
// client's channel; a valid pair from another address takes the channel over (NAT
// rebinding). On failure it has answered the request.
func (srv *server) connected(req *request) *channel {
	clientID, token := req.query["clientid"], req.query["token"]
	if clientID == "" || token == "" {
		reply(req.w, codes.BadRequest, "Missing token or clientid in connection mode")
		return nil
	}
	srv.mu.Lock()
	ch := srv.byClient[clientID]
	srv.mu.Unlock()
	if ch == nil || !ch.tokenMatches(token) {
		reply(req.w, codes.Unauthorized, "Invalid token or clientid in connection mode")
		return nil
	}
	if old := ch.moveTo(req.cc); old != nil {
		srv.mu.Lock()
		if srv.channels[old] == ch {
			delete(srv.channels, old)
		}
		srv.channels[req.cc] = ch
		srv.mu.Unlock()
		srv.env.Log().Info("coap client moved to a new address", "clientid", clientID, "peer", req.cc.RemoteAddr())
	}
	return ch
}

func (ch *channel) tokenMatches(token string) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return !ch.ended && ch.token != "" && ch.token == token
}

// moveTo points the channel at a new connection; it returns the old one, or nil when it
// did not change.
func (ch *channel) moveTo(cc *udpclient.Conn) *udpclient.Conn {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.cc == cc {
		return nil
	}
	old := ch.cc
	ch.cc = cc
	ch.info.Peer = gateway.AddrPort(cc.RemoteAddr())
	return old
}

func (ch *channel) loggedIn() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.client != nil
}

// login authenticates and registers the channel's client. Connectionless requests without
// credentials skip authentication (as EMQX); authorization still applies to them.
func (ch *channel) login(req *request, clientID string) error {
	ci := &gateway.ClientInfo{}
	ci.ClientID = clientID
	ci.Username = req.query["username"]
	ci.Password = []byte(req.query["password"])
	ci.Peer = gateway.AddrPort(req.cc.RemoteAddr())
	ci.Protocol, ci.ProtoName, ci.ProtoVer = "coap", "CoAP", "1"
	ci.Keepalive = int(req.st.Heartbeat.D().Seconds() / 2) // EMQX reports heartbeat/2
	login := ch.srv.env.Login
	if !req.st.ConnectionRequired && ci.Username == "" && len(ci.Password) == 0 {
		login = ch.srv.env.LoginAnonymous
	}
	c, err := login(ch.srv.ctx, ci, ch)
	if err != nil {
		return err
	}
	ch.mu.Lock()
	ch.client, ch.info, ch.ended = c, c.Info(), false
	ch.mu.Unlock()
	return nil
}

// pubsub serves /ps/{topic}: POST publishes, GET with Observe subscribes or unsubscribes.
func (srv *server) pubsub(req *request) {
	var ch *channel
	if req.st.ConnectionRequired {
		if ch = srv.connected(req); ch == nil {
			return
		}
	} else {
		ch = srv.channel(req.cc)
		if !ch.loggedIn() {
			// Connectionless: xgate honours a clientid query (EMQX 5 ignores it, #11342).
			clientID := req.query["clientid"]
			if clientID == "" {
				clientID = gateway.RandomClientID()
			}
			if err := ch.login(req, clientID); err != nil {
				reply(req.w, codes.Unauthorized, "Login Failed: "+err.Error())
				return
			}
		}
	}
	topic := strings.Join(req.path[1:], "/")
	if len(req.path) < 2 || topic == "" {
		reply(req.w, codes.BadRequest, "invalid topic")
		return
	}
	switch req.r.Code() {
	case codes.POST:
		ch.publish(req, topic)
	case codes.GET:
		obs, err := req.r.Options().Observe()
		switch {
		case err != nil && req.r.HasOption(message.Block2):
			// RFC 7959 §2.6: the client fetches the rest of a large notification with plain
			// GETs carrying Block2; they are answered from that notification (go-coap's
			// block-wise layer cuts the requested block out of it).
			if body, ok := ch.lastNotification(topic); ok {
				req.w.Message().SetCode(codes.Content)
				req.w.Message().SetBody(bytes.NewReader(body))
				return
			}
			reply(req.w, codes.NotFound, "no notification to continue")
		case err == nil && obs == 0:
			ch.observe(req, topic)
		case err == nil && obs == 1:
			ch.unobserve(topic)
			reply(req.w, codeNoContent, "")
		default:
			reply(req.w, codes.BadRequest, "invalid observe value")
		}
	default:
		reply(req.w, codes.MethodNotAllowed, "")
	}
}

// qosFor picks a QoS: the qos query, else the configured mode (coap: CON→1, NON→0).
func qosFor(req *request, mode string) (byte, bool) {
	if q, ok := req.query["qos"]; ok {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n > 2 {
			return 0, false
		}
		return byte(n), true
	}
	switch mode {
	case "qos1":
		return 1, true
	case "qos2":
		return 2, true
	case "coap":
		if req.isCON {
			return 1, true
		}
	}
	return 0, true
}

func (ch *channel) publish(req *request, topic string) {
	qos, ok := qosFor(req, req.st.PublishQoS)
	if !ok {
		reply(req.w, codes.BadRequest, "invalid qos")
		return
	}
	payload, err := req.r.ReadBody()
	if err != nil {
		reply(req.w, codes.BadRequest, "invalid payload")
		return
	}
	m := gateway.Message{Topic: topic, Payload: payload, QoS: qos, Retain: req.query["retain"] == "true"}
	if e, ok := req.query["expiry"]; ok {
		n, err := strconv.ParseUint(e, 10, 32)
		if err != nil {
			reply(req.w, codes.BadRequest, "invalid expiry")
			return
		}
		m.Expiry = uint32(n)
	}
	ch.mu.Lock()
	c := ch.client
	ch.mu.Unlock()
	switch err := c.Publish(m); {
	case err == nil:
		reply(req.w, codes.Changed, "")
	case errors.Is(err, gateway.ErrNotAuthorized):
		reply(req.w, codes.Unauthorized, "")
		ch.srv.disconnectIfDenied(ch, req.cc, err)
	case errors.Is(err, gateway.ErrInvalidTopic):
		reply(req.w, codes.BadRequest, "invalid topic")
	default:
		reply(req.w, codes.InternalServerError, "")
	}
}

func (ch *channel) observe(req *request, filter string) {
	token := req.r.Token()
	if len(token) == 0 {
		reply(req.w, codes.BadRequest, "observe without token")
		return
	}
	qos, ok := qosFor(req, req.st.SubscribeQoS)
	if !ok {
		reply(req.w, codes.BadRequest, "invalid qos")
		return
	}
	ch.mu.Lock()
	existing := ch.observers[filter]
	c := ch.client
	ch.mu.Unlock()
	if existing == nil { // re-subscribing keeps the first token, as EMQX
		o := &observer{filter: filter, token: append([]byte(nil), token...), qos: qos}
		sub, err := c.Subscribe(filter, qos, func(m gateway.Message) bool { return ch.enqueue(o, m) })
		switch {
		case errors.Is(err, gateway.ErrNotAuthorized):
			reply(req.w, codes.Unauthorized, "")
			ch.srv.disconnectIfDenied(ch, req.cc, err)
			return
		case err != nil:
			reply(req.w, codes.BadRequest, "invalid topic")
			return
		}
		o.sub = sub
		ch.mu.Lock()
		ch.observers[filter] = o
		ch.mu.Unlock()
	}
	req.w.SetResponse(codes.Content, message.TextPlain, nil)
	req.w.Message().SetObserve(0)
}

// lastNotification returns the payload last notified to the observer of filter.
func (ch *channel) lastNotification(filter string) ([]byte, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if o := ch.observers[filter]; o != nil && o.last != nil {
		return o.last, true
	}
	return nil, false
}

func (ch *channel) unobserve(filter string) {
	ch.mu.Lock()
	o := ch.observers[filter]
	delete(ch.observers, filter)
	ch.mu.Unlock()
	if o != nil {
		o.sub.Unsubscribe()
	}
}

// enqueue runs on a publisher's goroutine: it queues a notification (bounded) and makes
// sure a goroutine sends it.
func (ch *channel) enqueue(o *observer, m gateway.Message) bool {
	ch.mu.Lock()
	if ch.ended || len(ch.queue) >= ch.srv.settings().MaxMqueueLen {
		ch.mu.Unlock()
		return false
	}
	ch.queue = append(ch.queue, notification{obs: o, msg: m})
	if ch.running || !ch.srv.startWorker() {
		ch.mu.Unlock()
		return true
	}
	ch.running = true
	ch.mu.Unlock()
	go ch.notify()
	return true
}

// notify sends queued notifications one by one. A CON notification waits for its ACK
// (go-coap retransmits per RFC 7252); an observer that never acknowledges is dropped.
func (ch *channel) notify() {
	defer ch.srv.workers.Done()
	for {
		ch.mu.Lock()
		if len(ch.queue) == 0 || ch.ended {
			ch.running = false
			ch.queue = nil
			ch.mu.Unlock()
			return
		}
		n := ch.queue[0]
		ch.queue = ch.queue[1:]
		if _, ok := ch.observers[n.obs.filter]; !ok || ch.observers[n.obs.filter] != n.obs {
			ch.mu.Unlock()
			continue // unsubscribed meanwhile
		}
		n.obs.seq++
		if n.obs.seq > maxObserveSeq {
			n.obs.seq = 1
		}
		n.obs.last = n.msg.Payload
		seq, cc, c := n.obs.seq, ch.cc, ch.client
		ch.mu.Unlock()

		st := ch.srv.settings()
		// go-coap waits for a CON's ACK until the message's context ends: bound it by
		// RFC 7252's MAX_TRANSMIT_WAIT so a silent observer cannot stall the channel.
		wait := time.Duration(float64(st.AckTimeout.D()) * float64(int(1)<<(st.MaxRetransmit+1)-1) * 1.5)
		msgCtx, cancel := context.WithTimeout(cc.Context(), wait+st.AckTimeout.D())
		msg := cc.AcquireMessage(msgCtx)
		msg.SetCode(codes.Content)
		msg.SetToken(n.obs.token)
		msg.SetObserve(seq)
		msg.SetBody(bytes.NewReader(n.msg.Payload))
		confirmable := st.NotifyType == "con" || (st.NotifyType == "qos" && n.msg.QoS > 0)
		if confirmable {
			msg.SetType(message.Confirmable)
		} else {
			msg.SetType(message.NonConfirmable)
		}
		err := cc.WriteMessage(msg)
		cc.ReleaseMessage(msg)
		cancel()
		if err != nil {
			ch.srv.env.Log().Info("coap observer dropped: notification not delivered", "clientid", ch.Info().ClientID,
				"topic", n.obs.filter, "error", err)
			c.Dropped(n.msg, "notification_failed")
			ch.unobserve(n.obs.filter)
		}
	}
}

// newToken is EMQX's connection token: a random decimal in 1..2^32-1.
func newToken() string {
	var b [4]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return strconv.FormatUint(uint64(v), 10)
		}
	}
}

var _ gateway.Requester = (*channel)(nil)

// contentFormats lists the API's content types with their CoAP Content-Format numbers.
func contentFormats() map[string]message.MediaType {
	return map[string]message.MediaType{
		"text/plain":               message.TextPlain,
		"application/json":         message.AppJSON,
		"application/octet-stream": message.AppOctets,
		"application/link-format":  message.AppLinkFormat,
		"application/cbor":         message.AppCBOR,
	}
}

// Request implements gateway.Requester: a CON request to the device, answered per RFC 7252.
func (ch *channel) Request(ctx context.Context, req gateway.DeviceRequest) (gateway.DeviceResponse, error) {
	cc := ch.conn()
	var body io.ReadSeeker
	formats := contentFormats()
	cf, known := formats[req.ContentType]
	if req.Payload != nil {
		body = bytes.NewReader(req.Payload)
		if !known && req.ContentType != "" {
			return gateway.DeviceResponse{}, fmt.Errorf("content_type %q is not one of text/plain, application/json, application/octet-stream, application/link-format, application/cbor", req.ContentType)
		}
		if !known {
			cf = message.TextPlain
		}
	}
	var (
		resp *pool.Message
		err  error
	)
	switch strings.ToLower(req.Method) {
	case "get":
		resp, err = cc.Get(ctx, req.Path)
	case "delete":
		resp, err = cc.Delete(ctx, req.Path)
	case "post":
		resp, err = cc.Post(ctx, req.Path, cf, body)
	case "put":
		resp, err = cc.Put(ctx, req.Path, cf, body)
	default:
		return gateway.DeviceResponse{}, fmt.Errorf("method %q is not get, put, post or delete", req.Method)
	}
	if err != nil {
		return gateway.DeviceResponse{}, err
	}
	defer cc.ReleaseMessage(resp)
	out := gateway.DeviceResponse{Code: fmt.Sprintf("%d.%02d", resp.Code()>>5, resp.Code()&0x1f)}
	if f, err := resp.ContentFormat(); err == nil {
		out.ContentType = f.String()
		for name, v := range formats {
			if v == f {
				out.ContentType = name
			}
		}
	}
	if out.Payload, err = resp.ReadBody(); err != nil {
		return gateway.DeviceResponse{}, err
	}
	return out, nil
}
