package stomp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xgate/xgate/gateway"
)

// Timing of a connection.
const (
	writeTimeout      = 15 * time.Second // EMQX send_timeout: a peer that reads nothing is dropped
	goodbyeTimeout    = 2 * time.Second  // how long an ERROR before a close may take to write
	heartbeatGrace    = 1.5              // silence allowed, in multiples of the client's interval
	minHeartbeat      = 100              // ms
	maxHeartbeat      = 86_400_000       // ms
	transactionMaxAge = 60 * time.Second
	maxTransactions   = 16
	readChunk         = 1024     // initial read buffer; grows for large frames
	maxIdleBuffer     = 64 << 10 // a grown buffer above this is released once drained
	writeChunk        = 32 << 10 // the writer flushes once this much is rendered
	serverHeader      = "xgate-stomp/1.2"
)

var supportedVersions = []string{"1.0", "1.1", "1.2"}

// session is one STOMP connection. The connection's goroutine (run) reads and handles
// client frames; a writer goroutine owns all writes. Broker deliveries arrive on publishers'
// goroutines and only enqueue.
type session struct {
	conn     net.Conn
	env      *gateway.Env
	settings Settings
	parser   Parser

	client    *gateway.Client // set after a successful CONNECT (under mu: the API reads it)
	info      gateway.ClientInfo
	version   string
	readGrace time.Duration // 0: no client heart-beats expected

	mu         sync.Mutex
	out        []outItem // frames waiting for the writer
	queued     int       // MESSAGEs among out plus held-back ones, bounded by MaxPending
	closing    bool      // a goodbye is queued or the connection is going away
	kickReason error     // why the core ended the session, for client.disconnected
	wake       chan struct{}
	subs       map[string]*subscription // by STOMP subscription id
	nextID     uint64                   // message-id / ack counter, per connection
	txs        map[string]*transaction
	quit       chan struct{} // closed when the connection is closed
	quitOnce   sync.Once
	writerDone chan struct{}
}

// outItem is one thing for the writer: a frame, or a message to render as MESSAGE.
type outItem struct {
	frame *Frame
	msg   *delivery
	close bool // close the connection after writing this
}

// delivery is one MESSAGE of a subscription.
type delivery struct {
	sub         *subscription
	id          uint64 // message-id and ack
	msg         gateway.Message
	redelivered bool
}

type subscription struct {
	id, dest string
	ack      string                // auto | client | client-individual
	gsub     *gateway.Subscription // under mu: nil while addSubscription is subscribing
	unacked  []*delivery           // sent, waiting for ACK/NACK, in id order
	held     []gateway.Message     // beyond the ack window
	removed  bool
}

type transaction struct {
	started time.Time
	frames  []*Frame
}

func newSession(c net.Conn, env *gateway.Env) *session {
	st := env.Settings().(Settings)
	s := &session{
		conn: c, env: env, settings: st,
		wake: make(chan struct{}, 1), subs: map[string]*subscription{}, txs: map[string]*transaction{},
		quit: make(chan struct{}), writerDone: make(chan struct{}),
	}
	s.parser.Limits = st.limits()
	s.info.Peer = gateway.AddrPort(c.RemoteAddr())
	return s
}

// Run serves the connection until it closes.
func (s *session) Run(ctx context.Context) {
	hb := make(chan time.Duration, 1)
	go s.writer(hb)
	var reason error
	defer func() {
		s.mu.Lock()
		goodbye := s.closing
		s.mu.Unlock()
		if goodbye {
			// The writer sends the queued ERROR/RECEIPT, bounded by goodbyeTimeout, then closes.
			<-s.writerDone
		}
		s.closeConn()
		<-s.writerDone
		if s.client != nil {
			s.mu.Lock()
			if reason == nil {
				reason = s.kickReason
			}
			s.mu.Unlock()
			s.client.Logout(reason)
		}
		s.unsubscribeAll()
	}()
	s.conn.SetReadDeadline(time.Now().Add(s.env.IdleTimeout()))
	// buf[r:w] holds the bytes read but not yet consumed by the parser.
	buf := make([]byte, readChunk)
	r, w := 0, 0
	for {
		if w == len(buf) {
			if r > 0 {
				w = copy(buf, buf[r:w])
				r = 0
			} else { // a frame larger than the buffer; the parser's limits bound it
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		n, err := s.conn.Read(buf[w:])
		if err != nil {
			reason = s.closeReason(err)
			return
		}
		w += n
		if s.readGrace > 0 {
			s.conn.SetReadDeadline(time.Now().Add(s.readGrace))
		}
		for {
			f, used, err := s.parser.Next(buf[r:w])
			if err != nil {
				// EMQX closes without ERROR before CONNECT; telling the client why costs nothing.
				s.fail("Frame error: "+err.Error(), nil)
				return
			}
			r += used
			if f == nil {
				break
			}
			if !s.handle(ctx, f, hb) {
				return
			}
		}
		if r == w {
			r, w = 0, 0
			if len(buf) > maxIdleBuffer {
				buf = make([]byte, readChunk)
			}
		}
	}
}

// closeReason logs why the read side ended and names it for client.disconnected.
func (s *session) closeReason(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout() && s.client == nil:
		s.env.Log().Info("closing connection that did not CONNECT in time", "peer", s.info.Peer)
		return errIdleTimeout
	case errors.As(err, &ne) && ne.Timeout():
		s.env.Log().Info("heart-beat timeout", "clientid", s.info.ClientID, "peer", s.info.Peer)
		return errHeartbeatTimeout
	}
	return nil
}

var (
	errIdleTimeout      = errors.New("idle_timeout")
	errHeartbeatTimeout = errors.New("heartbeat_timeout")
)

// handle processes one client frame; false means the connection must close.
func (s *session) handle(ctx context.Context, f *Frame, hb chan<- time.Duration) bool {
	if s.client == nil {
		if f.Command != "CONNECT" && f.Command != "STOMP" {
			// xgate rejects frames before CONNECT (EMQX 5 served them; see emqx-reference §8).
			s.fail("Not connected", f)
			return false
		}
		return s.connect(ctx, f, hb)
	}
	if len(s.txs) > 0 {
		s.expireTransactions()
	}
	if tx, ok := f.Get("transaction"); ok && (f.Command == "SEND" || f.Command == "ACK" || f.Command == "NACK") {
		t := s.txs[tx]
		if t == nil {
			s.sendError(fmt.Sprintf("Transaction %s not found", tx), f)
			return true
		}
		if len(t.frames) >= s.settings.MaxPending {
			s.fail(fmt.Sprintf("Transaction %s has too many frames", tx), f)
			return false
		}
		t.frames = append(t.frames, f)
		return true
	}
	switch f.Command {
	case "SEND":
		return s.send(f) && s.receipt(f)
	case "SUBSCRIBE":
		return s.subscribe(f) && s.receipt(f)
	case "UNSUBSCRIBE":
		s.unsubscribe(f)
		return s.receipt(f)
	case "ACK", "NACK":
		s.ack(f)
		return s.receipt(f)
	case "BEGIN":
		return s.begin(f)
	case "COMMIT", "ABORT":
		return s.endTransaction(f)
	case "DISCONNECT":
		s.mu.Lock()
		if id, ok := f.Get("receipt"); ok {
			s.push(outItem{frame: &Frame{Command: "RECEIPT", Headers: []Header{{"receipt-id", id}}}})
		}
		s.push(outItem{close: true})
		s.closing = true
		s.mu.Unlock()
		return false
	case "CONNECT", "STOMP":
		s.fail("Unexpected CONNECT: already connected", f)
		return false
	}
	s.fail("Unknown command "+f.Command, f)
	return false
}

// connect negotiates the version and heart-beats and logs the client in.
func (s *session) connect(ctx context.Context, f *Frame, hb chan<- time.Duration) bool {
	version, ok := negotiate(f)
	if !ok {
		s.fail("Login Failed: Supported protocol versions < 1.2", f)
		return false
	}
	s.mu.Lock()
	s.version = version
	s.mu.Unlock()
	s.parser.Version = version

	ci := &gateway.ClientInfo{}
	ci.Peer = s.info.Peer
	ci.SetPeerCertificate(gateway.PeerCertificate(s.conn))
	ci.Protocol, ci.ProtoName, ci.ProtoVer = "stomp", "STOMP", version
	ci.Username = f.Value("login")
	ci.Password = []byte(f.Value("passcode"))
	s.env.Override(ci, func(name string) (string, bool) {
		if h, ok := strings.CutPrefix(name, "Packet.headers."); ok {
			return f.Get(h)
		}
		return "", false
	})
	if ci.ClientID == "" {
		ci.ClientID = gateway.RandomClientID()
	}

	// STOMP 1.2: heart-beating. The client offers cx (it sends every cx ms) and wants cy.
	var cx, cy int
	if version != "1.0" {
		var err error
		if cx, cy, err = parseHeartBeat(f.Value("heart-beat")); err != nil {
			s.fail("Login Failed: "+err.Error(), f)
			return false
		}
	}
	ci.Keepalive = cx / 1000
	c, err := s.env.Login(ctx, ci, s)
	if err != nil {
		s.fail("Login Failed: "+err.Error(), f)
		return false
	}
	s.mu.Lock()
	s.client = c
	s.info = c.Info()
	s.mu.Unlock()
	if cx > 0 {
		s.readGrace = time.Duration(float64(cx)*heartbeatGrace) * time.Millisecond
		s.conn.SetReadDeadline(time.Now().Add(s.readGrace))
	} else {
		s.conn.SetReadDeadline(time.Time{})
	}
	hb <- time.Duration(cy) * time.Millisecond

	headers := []Header{{"version", version}, {"server", serverHeader}}
	if version != "1.0" {
		headers = append(headers, Header{"heart-beat", fmt.Sprintf("%d,%d", cy, cx)})
	}
	s.mu.Lock()
	s.push(outItem{frame: &Frame{Command: "CONNECTED", Headers: headers}})
	s.mu.Unlock()
	return true
}

// negotiate picks the highest version both sides speak; no accept-version means 1.0.
func negotiate(f *Frame) (string, bool) {
	offer, ok := f.Get("accept-version")
	if !ok {
		return "1.0", true
	}
	best := ""
	for _, v := range strings.Split(offer, ",") {
		v = strings.TrimSpace(v)
		if slices.Contains(supportedVersions, v) && v > best {
			best = v
		}
	}
	return best, best != ""
}

func parseHeartBeat(h string) (cx, cy int, err error) {
	if h == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(h, ",")
	if ok {
		cx, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			cy, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || cx < 0 || cy < 0 {
		return 0, 0, fmt.Errorf("invalid heart-beat header %q", h)
	}
	// The server sends no more often than minHeartbeat, and no interval exceeds a day (the
	// negotiated values are what CONNECTED reports, as the spec allows).
	if cy > 0 {
		cy = max(cy, minHeartbeat)
	}
	return min(cx, maxHeartbeat), min(cy, maxHeartbeat), nil
}

// send publishes a SEND frame's body to its destination.
func (s *session) send(f *Frame) bool {
	dest, ok := f.Get("destination")
	if !ok || dest == "" {
		s.fail("Missing destination header", f)
		return false
	}
	m := gateway.Message{Topic: dest, Payload: f.Body}
	if q, ok := f.Get("qos"); ok { // xgate extension: SEND at QoS 1 or 2 (EMQX: always 0)
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n > 2 {
			s.fail("Invalid qos header "+q, f)
			return false
		}
		m.QoS = byte(n)
	}
	for _, h := range f.Headers {
		switch h.Key {
		case "destination", "content-length", "transaction", "receipt", "qos":
		case "content-type":
			if m.ContentType == "" {
				m.ContentType = h.Value
			}
		default:
			m.Headers = append(m.Headers, gateway.Header{Key: h.Key, Value: h.Value})
		}
	}
	if err := s.client.Publish(m); err != nil {
		if errors.Is(err, gateway.ErrNotAuthorized) {
			s.fail("Insufficient permissions for "+dest, f)
		} else {
			s.fail("Send failed: "+err.Error(), f)
		}
		return false
	}
	return true
}

func (s *session) subscribe(f *Frame) bool {
	dest, ok := f.Get("destination")
	if !ok || dest == "" {
		s.fail("Missing destination header", f)
		return false
	}
	id, ok := f.Get("id")
	if !ok {
		if s.version != "1.0" {
			s.fail("Missing id header", f)
			return false
		}
		id = dest // STOMP 1.0: id is optional
	}
	ackMode := f.Value("ack")
	switch ackMode {
	case "":
		ackMode = "auto"
	case "auto", "client", "client-individual":
	default:
		s.fail("Invalid ack mode "+ackMode, f)
		return false
	}
	var qos byte
	if ackMode != "auto" {
		qos = 1
	}
	err := s.addSubscription(&subscription{id: id, dest: dest, ack: ackMode}, qos)
	var clash subscriptionClash
	switch {
	case err == nil:
		return true
	case errors.As(err, &clash):
		s.fail(err.Error(), f)
	case errors.Is(err, gateway.ErrNotAuthorized):
		s.fail("Insufficient permissions for "+dest, f)
	default:
		s.fail("Subscribe failed: "+err.Error(), f)
	}
	return false
}

// subscriptionClash is a SUBSCRIBE whose id or destination is already in use; its text is
// EMQX's ERROR message.
type subscriptionClash string

func (e subscriptionClash) Error() string { return string(e) }

// addSubscription subscribes sub on behalf of a SUBSCRIBE frame or the operator (API). Its id
// and destination are reserved under mu before the broker subscription is made, so that the
// two cannot both take them; an UNSUBSCRIBE or the end of the session meanwhile marks it
// removed, and the broker subscription is then cancelled here.
func (s *session) addSubscription(sub *subscription, qos byte) error {
	s.mu.Lock()
	client := s.client
	if client == nil || s.closing {
		s.mu.Unlock()
		return gateway.ErrNotLoggedIn
	}
	if _, used := s.subs[sub.id]; used {
		s.mu.Unlock()
		return subscriptionClash(fmt.Sprintf("Subscription id %s is in used", sub.id))
	}
	for _, other := range s.subs {
		if other.dest == sub.dest {
			s.mu.Unlock()
			return subscriptionClash(fmt.Sprintf("Topic %s already in subscribed", sub.dest))
		}
	}
	s.subs[sub.id] = sub
	s.mu.Unlock()

	// Retained messages are delivered during Subscribe, on this goroutine: mu is not held.
	gsub, err := client.Subscribe(sub.dest, qos, func(m gateway.Message) bool { return s.deliver(sub, m) })
	s.mu.Lock()
	if err != nil {
		if s.subs[sub.id] == sub {
			delete(s.subs, sub.id)
		}
		sub.removed = true
		s.mu.Unlock()
		return err
	}
	removed := sub.removed
	sub.gsub = gsub
	s.mu.Unlock()
	if removed {
		gsub.Unsubscribe()
	}
	return nil
}

var _ gateway.SubscriptionManager = (*session)(nil)

// AddSubscription implements gateway.SubscriptionManager: the operator subscribes the
// client with ack mode auto; subID becomes the STOMP subscription id its MESSAGE frames
// carry.
func (s *session) AddSubscription(_ context.Context, filter string, qos byte, subID string) error {
	if subID == "" {
		return errors.New("sub_props.subid is required to subscribe a STOMP client")
	}
	return s.addSubscription(&subscription{id: subID, dest: filter, ack: "auto"}, qos)
}

// RemoveSubscription implements gateway.SubscriptionManager: it ends the subscription
// whose destination is filter, as an UNSUBSCRIBE of its id would.
func (s *session) RemoveSubscription(_ context.Context, filter string) error {
	s.mu.Lock()
	var id string
	found := false
	for _, sub := range s.subs {
		if sub.dest == filter {
			id, found = sub.id, true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return gateway.ErrNoSubscription
	}
	s.removeSubscription(id)
	return nil
}

func (s *session) unsubscribe(f *Frame) {
	id, ok := f.Get("id")
	if !ok && s.version == "1.0" {
		id = f.Value("destination")
	}
	s.removeSubscription(id)
}

// removeSubscription ends the subscription with that id, if any. A subscription still
// being added has no gsub yet; addSubscription cancels it when it sees removed.
func (s *session) removeSubscription(id string) {
	s.mu.Lock()
	var gsub *gateway.Subscription
	if sub := s.subs[id]; sub != nil {
		delete(s.subs, id)
		sub.removed = true
		s.queued -= len(sub.held) + len(sub.unacked)
		sub.held, sub.unacked = nil, nil
		gsub = sub.gsub
	}
	s.mu.Unlock()
	if gsub != nil {
		gsub.Unsubscribe()
	}
}

func (s *session) unsubscribeAll() {
	s.mu.Lock()
	subs := s.subs
	s.subs = map[string]*subscription{}
	gsubs := make([]*gateway.Subscription, 0, len(subs))
	for _, sub := range subs {
		sub.removed = true
		if sub.gsub != nil {
			gsubs = append(gsubs, sub.gsub)
		}
	}
	s.mu.Unlock()
	for _, gsub := range gsubs {
		gsub.Unsubscribe()
	}
}

// deliver runs on a publisher's goroutine: it only enqueues. Messages beyond a client-ack
// subscription's window are held back; beyond MaxPending they are dropped.
func (s *session) deliver(sub *subscription, m gateway.Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.removed || s.closing || s.queued >= s.settings.MaxPending {
		return false
	}
	s.queued++
	if sub.ack != "auto" && len(sub.unacked) >= s.settings.AckWindow {
		sub.held = append(sub.held, m)
		return true
	}
	s.enqueueMessage(sub, m, false)
	return true
}

// enqueueMessage queues a MESSAGE; s.mu is held.
func (s *session) enqueueMessage(sub *subscription, m gateway.Message, redelivered bool) {
	s.nextID++
	d := &delivery{sub: sub, id: s.nextID, msg: m, redelivered: redelivered}
	if sub.ack != "auto" {
		sub.unacked = append(sub.unacked, d)
	}
	s.push(outItem{msg: d})
}

// ack handles ACK and NACK. `client` acknowledges cumulatively, `client-individual` one
// message; NACK redelivers with redelivered:true. Unknown ids are ignored.
func (s *session) ack(f *Frame) {
	key := "id" // STOMP 1.2
	if s.version != "1.2" {
		key = "message-id"
	}
	id, err := strconv.ParseUint(f.Value(key), 10, 64)
	if err != nil {
		return
	}
	var acked []gateway.Message
	s.mu.Lock()
	for _, sub := range s.subs {
		i := slices.IndexFunc(sub.unacked, func(d *delivery) bool { return d.id == id })
		if i < 0 {
			continue
		}
		var done []*delivery
		if sub.ack == "client" {
			done = slices.Clone(sub.unacked[:i+1])
			sub.unacked = slices.Delete(sub.unacked, 0, i+1)
		} else {
			done = []*delivery{sub.unacked[i]}
			sub.unacked = slices.Delete(sub.unacked, i, i+1)
		}
		for _, d := range done {
			if f.Command == "NACK" {
				s.enqueueMessage(sub, d.msg, true)
				continue
			}
			s.queued--
			acked = append(acked, d.msg)
		}
		for len(sub.held) > 0 && len(sub.unacked) < s.settings.AckWindow {
			m := sub.held[0]
			sub.held = sub.held[1:]
			s.enqueueMessage(sub, m, false)
		}
		break
	}
	s.mu.Unlock()
	for _, m := range acked {
		s.client.Acked(m)
	}
}

func (s *session) begin(f *Frame) bool {
	tx, ok := f.Get("transaction")
	if !ok || tx == "" {
		s.fail("Missing transaction header", f)
		return false
	}
	if s.txs[tx] != nil {
		s.sendError(fmt.Sprintf("Transaction %s already started", tx), f)
		return true
	}
	if len(s.txs) >= maxTransactions {
		s.fail("Too many open transactions", f)
		return false
	}
	s.txs[tx] = &transaction{started: time.Now()}
	return s.receipt(f)
}

func (s *session) endTransaction(f *Frame) bool {
	tx := f.Value("transaction")
	t := s.txs[tx]
	if t == nil {
		s.sendError(fmt.Sprintf("Transaction %s not found", tx), f)
		return true
	}
	delete(s.txs, tx)
	if f.Command == "COMMIT" {
		for _, bf := range t.frames {
			switch bf.Command {
			case "SEND":
				if !s.send(bf) {
					return false
				}
			default:
				s.ack(bf)
			}
		}
	}
	return s.receipt(f)
}

// expireTransactions drops transactions older than 60 s (EMQX 5 meant to; its sweep was
// inverted, see emqx-reference §8).
func (s *session) expireTransactions() {
	for id, t := range s.txs {
		if time.Since(t.started) > transactionMaxAge {
			delete(s.txs, id)
			s.env.Log().Info("transaction expired", "clientid", s.info.ClientID, "transaction", id)
		}
	}
}

// receipt answers a frame's receipt header, if any.
func (s *session) receipt(f *Frame) bool {
	if id, ok := f.Get("receipt"); ok {
		s.mu.Lock()
		s.push(outItem{frame: &Frame{Command: "RECEIPT", Headers: []Header{{"receipt-id", id}}}})
		s.mu.Unlock()
	}
	return true
}

func errorFrame(msg string, cause *Frame) *Frame {
	ef := &Frame{Command: "ERROR", Headers: []Header{{"message", msg}, {"content-type", "text/plain"}}, Body: []byte(msg)}
	if cause != nil {
		if id, ok := cause.Get("receipt"); ok {
			ef.Headers = append(ef.Headers, Header{"receipt-id", id})
		}
	}
	return ef
}

// sendError sends an ERROR that does not end the connection (transaction errors).
func (s *session) sendError(msg string, cause *Frame) {
	s.mu.Lock()
	s.push(outItem{frame: errorFrame(msg, cause)})
	s.mu.Unlock()
}

// fail sends an ERROR about the client's misbehaviour and closes the connection after it.
func (s *session) fail(msg string, cause *Frame) {
	if s.goodbye(msg, cause) {
		s.env.Log().Warn("closing connection with ERROR", "clientid", s.info.ClientID, "peer", s.info.Peer, "reason", msg)
	}
}

// goodbye queues a final ERROR; false when the connection is already closing.
func (s *session) goodbye(msg string, cause *Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.closing = true
	s.push(outItem{frame: errorFrame(msg, cause), close: true})
	return true
}

// Info implements gateway.Session.
func (s *session) Info() gateway.ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Kick implements gateway.Session: ERROR with the reason, then close.
func (s *session) Kick(reason error) {
	s.mu.Lock()
	s.kickReason = reason
	s.mu.Unlock()
	if s.goodbye(reason.Error(), nil) {
		s.env.Log().Debug("kicked", "clientid", s.Info().ClientID, "reason", reason)
	}
}

// push queues an item for the writer; s.mu is held.
func (s *session) push(it outItem) {
	s.out = append(s.out, it)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writer owns every write to the connection. It renders MESSAGEs, sends heart-beats when
// the client asked for them, and closes the connection after a goodbye.
func (s *session) writer(hb <-chan time.Duration) {
	defer close(s.writerDone)
	var (
		tick    *time.Ticker
		tickC   <-chan time.Time
		buf     []byte
		items   []outItem
		wrote   bool
		timeout = writeTimeout
	)
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		case d, ok := <-hb:
			if !ok {
				return
			}
			if d > 0 {
				tick = time.NewTicker(d)
				tickC = tick.C
			}
			hb = nil
			continue
		case <-tickC:
			if !wrote {
				s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
				if _, err := s.conn.Write([]byte{'\n'}); err != nil {
					s.closeConn()
					return
				}
			}
			wrote = false
			continue
		}
		s.mu.Lock()
		items, s.out = s.out, items[:0]
		escape := s.version != "1.0"
		s.mu.Unlock()
		closeAfter := false
		flush := func() bool {
			if len(buf) == 0 {
				return true
			}
			s.conn.SetWriteDeadline(time.Now().Add(timeout))
			_, err := s.conn.Write(buf)
			buf = buf[:0]
			wrote = true
			return err == nil
		}
		for _, it := range items {
			switch {
			case it.frame != nil:
				buf = AppendFrame(buf, it.frame, escape && it.frame.Command != "CONNECTED")
			case it.msg != nil:
				buf = s.appendMessage(buf, it.msg, escape)
			}
			if it.close {
				closeAfter = true
				timeout = goodbyeTimeout
				break
			}
			if len(buf) >= writeChunk && !flush() { // bound the rendered bytes held at once
				s.closeConn()
				return
			}
		}
		clear(items)
		if !flush() {
			s.closeConn()
			return
		}
		if cap(buf) > 4*writeChunk {
			buf = nil
		}
		if closeAfter {
			s.closeConn()
			return
		}
	}
}

// appendMessage renders a delivery as a MESSAGE frame and counts it off the pending bound
// (auto subscriptions; client-ack ones count off when acknowledged).
func (s *session) appendMessage(buf []byte, d *delivery, escape bool) []byte {
	s.mu.Lock()
	removed := d.sub.removed
	if d.sub.ack == "auto" {
		s.queued--
	}
	s.mu.Unlock()
	if removed {
		return buf // EMQX drops deliveries to a subscription that is gone
	}
	id := strconv.FormatUint(d.id, 10)
	ct := d.msg.ContentType
	if ct == "" {
		ct = "text/plain"
	}
	f := Frame{Command: "MESSAGE", Body: d.msg.Payload, Headers: make([]Header, 0, 6+len(d.msg.Headers))}
	f.Headers = append(f.Headers,
		Header{"subscription", d.sub.id},
		Header{"message-id", id},
		Header{"destination", d.msg.Topic},
		Header{"content-type", ct})
	if d.sub.ack != "auto" {
		f.Headers = append(f.Headers, Header{"ack", id})
	}
	if d.redelivered {
		f.Headers = append(f.Headers, Header{"redelivered", "true"})
	}
	for _, h := range d.msg.Headers {
		switch h.Key {
		case "subscription", "message-id", "destination", "ack", "content-length", "redelivered":
		default:
			f.Headers = append(f.Headers, Header{h.Key, h.Value})
		}
	}
	return AppendFrame(buf, &f, escape)
}

func (s *session) closeConn() {
	s.quitOnce.Do(func() {
		s.conn.Close()
		close(s.quit)
	})
}
