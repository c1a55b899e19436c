package mqttsn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xgate/xgate/gateway"
)

// Timing fixed by EMQX's behaviour (emqx-reference §2.2).
const (
	registerRetry      = 5 * time.Second // gateway REGISTER retransmission (at most)
	registerMaxRetries = 3
	keepaliveFactor    = 1.5 // silence tolerated, in multiples of the CONNECT Duration
	maxAwaitingRel     = 100 // incoming QoS 2 ids remembered until PUBREL
	inboxLimit         = 256 // events waiting for a session; beyond, packets are dropped
	firstNormalTopicID = maxPredefinedID + 1
)

type state int

const (
	stateNew       state = iota // nothing but CONNECT or QoS -1 PUBLISH yet
	stateWillTopic              // CONNECT with Will: waiting for WILLTOPIC
	stateWillMsg                // waiting for WILLMSG
	stateActive
	stateAsleep
	stateAwake // woken by PINGREQ: flushing buffered messages
	stateLost  // the client is gone but its CleanSession=0 session is kept
	stateClosed
)

// event is one thing for a session to handle.
type event struct {
	pkt   *Packet
	link  link
	flush bool // deliveries are waiting
	timer timerKind
	gen   uint64 // timer generation, to ignore stale timers
	kick  error
	lost  bool      // the DTLS connection ended
	call  *subsCall // the operator (API) subscribes or unsubscribes the client
}

// subsCall is a SubscriptionManager call handed to the session's goroutine; done (buffered)
// receives its result.
type subsCall struct {
	add    bool
	filter string
	qos    byte
	done   chan error
}

type timerKind int

const (
	noTimer timerKind = iota
	keepaliveTimer
	sleepTimer
	retryTimer
	expiryTimer
	handshakeTimer
)

type will struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

type subscription struct {
	filter string
	qos    byte
	sub    *gateway.Subscription
}

// outgoing is a downlink PUBLISH waiting for its acknowledgement.
type outgoing struct {
	msgID   uint16
	topicID uint16
	idType  byte
	msg     gateway.Message
	sent    time.Time
	tries   int
	pubrec  bool // QoS 2: PUBREC received, PUBREL sent
}

// pendingRegister is a gateway REGISTER waiting for its REGACK.
type pendingRegister struct {
	topic   string
	topicID uint16
	msgID   uint16
	sent    time.Time
	tries   int
}

// session is one MQTT-SN client. Its fields below mu are touched only by the goroutine
// handling its events, one at a time.
type session struct {
	srv *server
	udp bool

	mu       sync.Mutex
	inbox    []event
	running  bool
	link     link
	info     gateway.ClientInfo
	incoming []gateway.Message // deliveries from the broker, bounded by MaxMqueueLen
	timerGen map[timerKind]uint64

	st          Settings
	state       state
	client      *gateway.Client
	clientID    string
	clean       bool
	keepalive   time.Duration
	lastSeen    time.Time
	sleepFor    time.Duration
	will        *will
	connectPkt  *Packet
	topics      map[string]uint16 // normal topic ids registered in this session
	names       map[uint16]string
	nextTopicID uint16
	subs        map[string]*subscription
	queue       []gateway.Message // messages waiting to be sent
	inflight    []*outgoing
	register    *pendingRegister
	resumeRegs  []string // subs_resume: topics to REGISTER before replaying
	nextMsgID   uint16
	awaitingRel map[uint16]bool
	timers      map[timerKind]*time.Timer
	denied      bool // a publish or subscribe was refused with deny_action = disconnect
}

func newSession(srv *server, l link) *session {
	_, udp := l.(*udpLink)
	s := &session{
		srv: srv, udp: udp, link: l,
		topics: map[string]uint16{}, names: map[uint16]string{}, nextTopicID: firstNormalTopicID,
		subs: map[string]*subscription{}, awaitingRel: map[uint16]bool{},
		timers: map[timerKind]*time.Timer{}, timerGen: map[timerKind]uint64{},
	}
	s.info.Peer = l.addr()
	return s
}

// post queues an event and makes sure a goroutine handles it.
func (s *session) post(ev event) {
	s.mu.Lock()
	if len(s.inbox) >= inboxLimit && ev.pkt != nil {
		s.mu.Unlock()
		return // a flooding peer loses packets, not memory (other events are coalesced or few)
	}
	s.inbox = append(s.inbox, ev)
	if s.running {
		s.mu.Unlock()
		return
	}
	if !s.srv.startWorker() {
		s.inbox = nil
		s.mu.Unlock()
		return
	}
	s.running = true
	s.mu.Unlock()
	go s.work()
}

func (s *session) work() {
	defer s.srv.workers.Done()
	for {
		s.mu.Lock()
		if len(s.inbox) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		ev := s.inbox[0]
		s.inbox = s.inbox[1:]
		if len(s.inbox) == 0 {
			s.inbox = nil // let a burst's backing array go
		}
		s.mu.Unlock()
		s.handle(ev)
	}
}

// Info implements gateway.Session.
func (s *session) Info() gateway.ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Kick implements gateway.Session: DISCONNECT, then the session ends.
func (s *session) Kick(reason error) { s.post(event{kick: reason}) }

// deliver runs on a publisher's goroutine: it only queues.
func (s *session) deliver(m gateway.Message) bool {
	s.mu.Lock()
	if len(s.incoming) >= s.srv.settings().MaxMqueueLen {
		s.mu.Unlock()
		return false
	}
	s.incoming = append(s.incoming, m)
	first := len(s.incoming) == 1
	s.mu.Unlock()
	if first {
		s.post(event{flush: true})
	}
	return true
}

func (s *session) send(p *Packet) {
	b := Append(nil, p)
	if len(b) == 0 { // over MQTT-SN's 65535 octets: only a huge downlink payload gets here
		s.srv.env.Log().Warn("message too large for MQTT-SN dropped", "clientid", s.clientID, "type", p.Type, "bytes", len(p.Data))
		return
	}
	if err := s.link.send(b); err != nil {
		s.srv.env.Log().Debug("send failed", "clientid", s.clientID, "peer", s.link.addr(), "error", err)
	}
}

// setTimer (re)arms a timer that posts an event after d.
func (s *session) setTimer(k timerKind, d time.Duration) {
	s.stopTimer(k)
	s.mu.Lock()
	s.timerGen[k]++
	gen := s.timerGen[k]
	s.mu.Unlock()
	s.timers[k] = time.AfterFunc(d, func() { s.post(event{timer: k, gen: gen}) })
}

func (s *session) stopTimer(k timerKind) {
	if t := s.timers[k]; t != nil {
		t.Stop()
		delete(s.timers, k)
	}
}

func (s *session) stale(ev event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ev.gen != s.timerGen[ev.timer]
}

func (s *session) handle(ev event) {
	if s.state == stateClosed {
		if ev.call != nil {
			ev.call.done <- gateway.ErrNotLoggedIn
			return
		}
		// A datagram that raced with the end of this session belongs to whatever comes
		// next from its address (a new CONNECT, a QoS -1 publish).
		if l, ok := ev.link.(*udpLink); ok && ev.pkt != nil {
			s.srv.route(ev.pkt, l)
		}
		return
	}
	s.st = s.srv.settings()
	switch {
	case ev.call != nil:
		ev.call.done <- s.onCall(ev.call)
	case ev.kick != nil:
		s.send(&Packet{Type: Disconnect})
		s.end(ev.kick, false)
	case ev.lost:
		s.lose(errors.New("connection closed"))
	case ev.flush:
		s.takeIncoming()
		s.flush()
	case ev.timer != noTimer:
		if !s.stale(ev) {
			s.onTimer(ev.timer)
		}
	case ev.pkt != nil:
		s.onPacket(ev.pkt, ev.link)
	}
}

// takeIncoming moves broker deliveries into the session queue.
func (s *session) takeIncoming() {
	s.mu.Lock()
	in := s.incoming
	s.incoming = nil
	s.mu.Unlock()
	if s.client == nil {
		return // deliveries for a session that was reset
	}
	for _, m := range in {
		if len(s.queue) >= s.st.MaxMqueueLen {
			s.client.Dropped(m, "mqueue_full")
			continue
		}
		s.queue = append(s.queue, m)
	}
}

func (s *session) onPacket(p *Packet, l link) {
	if l != nil && l.addr() != s.link.addr() {
		s.moveTo(l, p)
	}
	s.lastSeen = time.Now()
	switch s.state {
	case stateNew:
		switch {
		case p.Type == Connect:
			s.connect(p)
		case p.Type == Publish && p.Flags.QoS == -1:
			s.publishWithoutSession(p)
			s.end(nil, true)
		}
		return
	case stateWillTopic, stateWillMsg:
		s.willHandshake(p)
		return
	case stateLost:
		if p.Type != Connect {
			return // a lost session answers nothing until the client CONNECTs again
		}
	}
	s.dispatch(p)
	if s.denied && s.state != stateClosed {
		// deny_action = disconnect: the refusal was answered; now the client goes.
		s.send(&Packet{Type: Disconnect})
		s.end(gateway.ErrDenyDisconnect, false)
	}
}

// dispatch handles a packet of a connected (or lost) session.
func (s *session) dispatch(p *Packet) {
	switch p.Type {
	case Connect:
		s.connect(p)
	case Register:
		s.onRegister(p)
	case Regack:
		s.onRegack(p)
	case Publish:
		s.onPublish(p)
	case Puback, Pubrec, Pubcomp:
		s.onAck(p)
	case Pubrel:
		delete(s.awaitingRel, p.MsgID)
		s.send(&Packet{Type: Pubcomp, MsgID: p.MsgID})
	case Subscribe:
		s.onSubscribe(p)
	case Unsubscribe:
		s.onUnsubscribe(p)
	case Pingreq:
		s.onPing(p)
	case Disconnect:
		s.onDisconnect(p)
	case WillTopicUpd:
		if !p.HasFlags {
			s.will = nil
		} else {
			s.will = s.newWill(p)
		}
		s.send(&Packet{Type: WillTopicResp, ReturnCode: Accepted})
	case WillMsgUpd:
		if s.will != nil {
			s.will.payload = p.Data
		}
		s.send(&Packet{Type: WillMsgResp, ReturnCode: Accepted})
	}
}

// moveTo switches the session to the client's new address (NAT rebinding: a CONNECT with
// the same clientid or a sleeping client's PINGREQ arrived from elsewhere). An active
// session on the old address that gets a CONNECT is a duplicate login: the old address
// gets DISCONNECT.
func (s *session) moveTo(l link, p *Packet) {
	old := s.link
	if p.Type == Connect && (s.state == stateActive || s.state == stateAwake) {
		s.send(&Packet{Type: Disconnect})
	}
	s.srv.unroute(old.addr(), s)
	s.mu.Lock()
	s.link = l
	s.info.Peer = l.addr()
	s.mu.Unlock()
	s.srv.env.Log().Info("client moved to a new address", "clientid", s.clientID, "from", old.addr(), "peer", l.addr())
}

// connect handles CONNECT: a new login, a resumed CleanSession=0 session, or a clean
// restart of an existing one.
func (s *session) connect(p *Packet) {
	s.connectPkt = p
	s.will = nil
	if p.Flags.Will {
		s.state = stateWillTopic
		s.send(&Packet{Type: WillTopicReq})
		s.setTimer(handshakeTimer, s.srv.env.IdleTimeout())
		return
	}
	s.login()
}

func (s *session) willHandshake(p *Packet) {
	switch {
	case s.state == stateWillTopic && p.Type == WillTopic:
		if !p.HasFlags { // MQTT-SN 1.2 §5.4.7: an empty WILLTOPIC means no will
			s.login()
			return
		}
		s.will = s.newWill(p)
		s.state = stateWillMsg
		s.send(&Packet{Type: WillMsgReq})
	case s.state == stateWillMsg && p.Type == WillMsg:
		s.will.payload = p.Data
		s.login()
	case p.Type == Connect:
		s.connect(p)
	}
}

func (s *session) newWill(p *Packet) *will {
	q := p.Flags.QoS
	if q < 0 {
		q = 0
	}
	return &will{topic: p.TopicName, qos: byte(q), retain: p.Flags.Retain}
}

func (s *session) login() {
	p := s.connectPkt
	clientID := p.ClientID
	if clientID == "" {
		clientID = gateway.RandomClientID()
	}
	ci := &gateway.ClientInfo{}
	ci.ClientID = clientID
	ci.Peer = s.link.addr()
	ci.Protocol, ci.ProtoName, ci.ProtoVer = "mqtt-sn", "MQTT-SN", "1.2"
	ci.Keepalive = int(p.Duration)
	ci.KeepSession = !p.Flags.CleanSession
	s.srv.env.Override(ci, func(string) (string, bool) { return "", false })

	resume := s.client != nil && !p.Flags.CleanSession && ci.ClientID == s.clientID
	if s.client != nil && !resume {
		s.client.Logout(gateway.ErrDiscarded)
		s.resetSession()
	}
	var err error
	if resume {
		err = s.srv.env.Authenticate(s.srv.ctx, ci)
	} else {
		var c *gateway.Client
		if c, err = s.srv.env.Login(s.srv.ctx, ci, s); err == nil {
			s.client = c
			*ci = c.Info()
		}
	}
	if err != nil {
		s.send(&Packet{Type: Connack, ReturnCode: NotAuthorized})
		s.end(err, true)
		return
	}
	s.clientID = ci.ClientID
	s.clean = p.Flags.CleanSession
	s.keepalive = time.Duration(p.Duration) * time.Second
	s.mu.Lock()
	if !resume {
		s.info = *ci
	}
	s.info.Peer = s.link.addr()
	s.mu.Unlock()
	s.srv.bind(s, s.clientID)
	s.stopTimer(sleepTimer)
	s.stopTimer(expiryTimer)
	s.state = stateActive
	s.send(&Packet{Type: Connack, ReturnCode: Accepted})
	s.armKeepalive()
	if resume {
		s.resume()
	}
}

// resume continues a CleanSession=0 session: with subs_resume every subscribed topic name
// is REGISTERed again before queued messages are replayed.
func (s *session) resume() {
	for _, o := range s.inflight {
		o.tries = 0
		s.sendPublish(o, true)
	}
	if s.st.SubsResume {
		for filter := range s.subs {
			if _, predefined := s.st.predefinedByTopic(filter); !predefined && len(filter) != 2 &&
				!strings.ContainsAny(filter, "+#") {
				s.resumeRegs = append(s.resumeRegs, filter)
			}
		}
		slices.Sort(s.resumeRegs)
	}
	s.flush()
}

func (s *session) resetSession() {
	s.topics, s.names, s.nextTopicID = map[string]uint16{}, map[uint16]string{}, firstNormalTopicID
	s.subs = map[string]*subscription{}
	s.queue, s.inflight, s.register = nil, nil, nil
	s.awaitingRel = map[uint16]bool{}
	s.resumeRegs = nil
	s.client = nil
	s.mu.Lock()
	s.incoming = nil
	s.mu.Unlock()
}

func (s *session) armKeepalive() {
	if s.keepalive > 0 {
		s.setTimer(keepaliveTimer, time.Duration(float64(s.keepalive)*keepaliveFactor))
	}
}

func (s *session) onTimer(k timerKind) {
	switch k {
	case keepaliveTimer:
		if s.state != stateActive && s.state != stateAwake {
			return
		}
		limit := time.Duration(float64(s.keepalive) * keepaliveFactor)
		if idle := time.Since(s.lastSeen); idle < limit {
			s.setTimer(keepaliveTimer, limit-idle)
			return
		}
		s.srv.env.Log().Info("keepalive timeout", "clientid", s.clientID, "peer", s.link.addr())
		s.send(&Packet{Type: Disconnect})
		s.lose(errKeepalive)
	case sleepTimer:
		s.srv.env.Log().Info("sleeping client did not wake in time", "clientid", s.clientID)
		s.lose(errAsleepTimeout)
	case expiryTimer:
		s.end(errSessionExpired, false)
	case handshakeTimer:
		if s.state == stateWillTopic || s.state == stateWillMsg {
			s.end(errIdleTimeout, false) // the will handshake never finished (idle_timeout)
		}
	case retryTimer:
		s.retry()
	}
}

var (
	errKeepalive      = errors.New("keepalive_timeout")
	errAsleepTimeout  = errors.New("asleep_timeout")
	errSessionExpired = errors.New("session_expired")
	errMaxRetry       = errors.New("reached_max_retry")
	errIdleTimeout    = errors.New("idle_timeout")
)

// lose handles a client that went away without DISCONNECT: its will is published; a
// CleanSession=0 session is kept (queuing) until it expires.
func (s *session) lose(reason error) {
	s.publishWill()
	if s.clean || s.client == nil || s.st.SessionExpiry.D() == 0 {
		s.end(reason, false)
		return
	}
	s.state = stateLost
	s.stopTimer(keepaliveTimer)
	s.stopTimer(sleepTimer)
	s.stopTimer(retryTimer)
	s.setTimer(expiryTimer, s.st.SessionExpiry.D())
}

// publishWill publishes the will, authorized like any publish (EMQX 5 skips authz).
func (s *session) publishWill() {
	w := s.will
	s.will = nil
	if w == nil || s.client == nil {
		return
	}
	err := s.client.Publish(gateway.Message{Topic: w.topic, Payload: w.payload, QoS: w.qos, Retain: w.retain})
	if err != nil {
		s.srv.env.Log().Warn("will not published", "clientid", s.clientID, "topic", w.topic, "error", err)
	}
}

// end closes the session for good. quiet skips the log line (unauthenticated one-shots).
func (s *session) end(reason error, quiet bool) {
	if s.state == stateClosed {
		return
	}
	s.state = stateClosed
	for k := range s.timers {
		s.stopTimer(k)
	}
	if s.client != nil {
		s.client.Logout(reason)
	}
	s.srv.forget(s)
	s.link.close()
	if !quiet && s.clientID != "" {
		s.srv.env.Log().Debug("session ended", "clientid", s.clientID, "reason", reason)
	}
}

func (s *session) onDisconnect(p *Packet) {
	s.send(&Packet{Type: Disconnect})
	if p.HasDuration && s.client != nil {
		// MQTT-SN 1.2 §6.14: the client sleeps; messages are buffered until it wakes.
		s.state = stateAsleep
		s.sleepFor = time.Duration(p.Duration) * time.Second
		s.stopTimer(keepaliveTimer)
		s.setTimer(sleepTimer, time.Duration(float64(s.sleepFor)*keepaliveFactor))
		return
	}
	s.will = nil // a clean DISCONNECT never publishes the will (EMQX 5 might; §8)
	s.end(nil, false)
}

func (s *session) onPing(p *Packet) {
	if s.state == stateAsleep && p.ClientID != "" {
		if p.ClientID != s.clientID {
			return // not ours: EMQX ignores it
		}
		s.state = stateAwake
		s.setTimer(sleepTimer, time.Duration(float64(s.sleepFor)*keepaliveFactor))
		s.flush()
		return
	}
	s.send(&Packet{Type: Pingresp})
}

// maybeBackToSleep ends an awake period once everything buffered was delivered.
func (s *session) maybeBackToSleep() {
	if s.state == stateAwake && len(s.queue) == 0 && len(s.inflight) == 0 && s.register == nil {
		s.send(&Packet{Type: Pingresp})
		s.state = stateAsleep
	}
}

func (s *session) onRegister(p *Packet) {
	if p.TopicName == "" || strings.ContainsAny(p.TopicName, "+#") {
		s.send(&Packet{Type: Regack, MsgID: p.MsgID, ReturnCode: NotSupported})
		return
	}
	id, ok := s.topicIDFor(p.TopicName)
	if !ok {
		s.send(&Packet{Type: Regack, MsgID: p.MsgID, ReturnCode: NotSupported})
		return
	}
	s.send(&Packet{Type: Regack, TopicID: id, MsgID: p.MsgID, ReturnCode: Accepted})
}

// topicIDFor returns the predefined id of a topic, or its id in this session's registry
// (assigning the next one); false when the 16-bit id space is exhausted.
func (s *session) topicIDFor(topic string) (uint16, bool) {
	if id, ok := s.st.predefinedByTopic(topic); ok {
		return id, true
	}
	if id, ok := s.topics[topic]; ok {
		return id, true
	}
	if s.nextTopicID == 0 { // wrapped past 0xFFFF
		return 0, false
	}
	id := s.nextTopicID
	s.nextTopicID++
	s.topics[topic], s.names[id] = id, topic
	return id, true
}

// resolve turns a PUBLISH's topic id into a topic name.
func (s *session) resolve(idType byte, id uint16) (string, ReturnCode) {
	switch idType {
	case TopicNormal:
		if name, ok := s.names[id]; ok {
			return name, Accepted
		}
	case TopicPredefined:
		if name, ok := s.st.predefinedByID(id); ok {
			return name, Accepted
		}
		if name, ok := s.names[id]; ok {
			return name, Accepted
		}
	case TopicShort:
		name := string([]byte{byte(id >> 8), byte(id)})
		if strings.ContainsAny(name, "+#") {
			return "", NotSupported
		}
		return name, Accepted
	default:
		return "", NotSupported
	}
	return "", InvalidTopicID
}

func (s *session) onPublish(p *Packet) {
	qos := p.Flags.QoS
	if qos == -1 && !s.st.EnableQoS3 {
		s.send(&Packet{Type: Puback, TopicID: p.TopicID, MsgID: p.MsgID, ReturnCode: NotSupported})
		return
	}
	if qos == 2 && s.awaitingRel[p.MsgID] {
		s.send(&Packet{Type: Pubrec, MsgID: p.MsgID}) // a retransmission: published already
		return
	}
	topic, rc := s.resolve(p.Flags.TopicIDType, p.TopicID)
	if rc == Accepted {
		rc = s.publish(topic, p.Data, max(qos, 0), p.Flags.Retain)
	}
	switch {
	case rc != Accepted:
		// EMQX answers errors with PUBACK even for QoS 0.
		s.send(&Packet{Type: Puback, TopicID: p.TopicID, MsgID: p.MsgID, ReturnCode: rc})
	case qos == 1:
		s.send(&Packet{Type: Puback, TopicID: p.TopicID, MsgID: p.MsgID, ReturnCode: Accepted})
	case qos == 2:
		if len(s.awaitingRel) < maxAwaitingRel {
			s.awaitingRel[p.MsgID] = true
		}
		s.send(&Packet{Type: Pubrec, MsgID: p.MsgID})
	}
}

func (s *session) publish(topic string, payload []byte, qos int8, retain bool) ReturnCode {
	err := s.client.Publish(gateway.Message{Topic: topic, Payload: payload, QoS: byte(qos), Retain: retain})
	switch {
	case err == nil:
		return Accepted
	case errors.Is(err, gateway.ErrNotAuthorized):
		s.denied = errors.Is(err, gateway.ErrDenyDisconnect)
		return NotAuthorized
	case errors.Is(err, gateway.ErrInvalidTopic):
		return NotSupported
	}
	s.srv.env.Log().Warn("publish failed", "clientid", s.clientID, "topic", topic, "error", err)
	return Congestion
}

// publishWithoutSession handles QoS -1 from a client that never connected: predefined or
// short topics only, authenticated when the listener has authenticators, and authorized.
func (s *session) publishWithoutSession(p *Packet) {
	if !s.st.EnableQoS3 {
		s.send(&Packet{Type: Puback, TopicID: p.TopicID, MsgID: p.MsgID, ReturnCode: NotSupported})
		return
	}
	var topic string
	switch p.Flags.TopicIDType {
	case TopicPredefined, TopicShort:
		var rc ReturnCode
		if topic, rc = s.resolve(p.Flags.TopicIDType, p.TopicID); rc != Accepted {
			s.send(&Packet{Type: Puback, TopicID: p.TopicID, MsgID: p.MsgID, ReturnCode: rc})
			return
		}
	default:
		return // a normal id means nothing without a session
	}
	ci := &gateway.ClientInfo{}
	ci.ClientID = "NegQoS-Client" // EMQX's name for these publishers
	ci.Peer = s.link.addr()
	ci.Protocol, ci.ProtoName, ci.ProtoVer = "mqtt-sn", "MQTT-SN", "1.2"
	s.srv.env.Override(ci, func(string) (string, bool) { return "", false })
	err := s.srv.env.PublishOnce(s.srv.ctx, ci, gateway.Message{Topic: topic, Payload: p.Data, Retain: p.Flags.Retain})
	if err != nil {
		s.srv.env.Log().Info("QoS -1 publish refused", "peer", ci.Peer, "topic", topic, "error", err)
	}
}

func (s *session) onSubscribe(p *Packet) {
	qos := byte(max(p.Flags.QoS, 0))
	reply := func(topicID uint16, rc ReturnCode) {
		s.send(&Packet{Type: Suback, Flags: Flags{QoS: int8(qos)}, TopicID: topicID, MsgID: p.MsgID, ReturnCode: rc})
	}
	var filter string
	var topicID uint16
	switch p.Flags.TopicIDType {
	case TopicNormal:
		filter = p.TopicName
		if filter == "" {
			reply(0, NotSupported)
			return
		}
		if !strings.ContainsAny(filter, "+#") {
			var ok bool
			if topicID, ok = s.topicIDFor(filter); !ok {
				reply(0, ExceededLimitation)
				return
			}
		}
	case TopicPredefined:
		name, ok := s.st.predefinedByID(p.TopicID)
		if !ok {
			reply(0, InvalidTopicID)
			return
		}
		filter, topicID = name, p.TopicID
	case TopicShort:
		filter = p.TopicName
	default:
		reply(0, NotSupported)
		return
	}
	if old := s.subs[filter]; old != nil {
		old.sub.Unsubscribe()
		delete(s.subs, filter)
	}
	sub, err := s.client.Subscribe(filter, qos, s.deliver)
	switch {
	case errors.Is(err, gateway.ErrNotAuthorized):
		s.denied = errors.Is(err, gateway.ErrDenyDisconnect)
		reply(0, NotAuthorized)
		return
	case err != nil:
		reply(0, NotSupported)
		return
	}
	s.subs[filter] = &subscription{filter: filter, qos: qos, sub: sub}
	reply(topicID, Accepted)
}

func (s *session) onUnsubscribe(p *Packet) {
	var filter string
	switch p.Flags.TopicIDType {
	case TopicPredefined:
		filter, _ = s.st.predefinedByID(p.TopicID)
	default:
		filter = p.TopicName
	}
	if sub := s.subs[filter]; sub != nil {
		sub.sub.Unsubscribe()
		delete(s.subs, filter)
	}
	s.send(&Packet{Type: Unsuback, MsgID: p.MsgID}) // always, as EMQX
}

var _ gateway.SubscriptionManager = (*session)(nil)

// AddSubscription implements gateway.SubscriptionManager. The session's goroutine
// subscribes; the client learns a topic id the usual way, by a gateway REGISTER before the
// first message on a topic it has not registered. subID has no meaning in MQTT-SN.
func (s *session) AddSubscription(ctx context.Context, filter string, qos byte, _ string) error {
	return s.callSession(ctx, &subsCall{add: true, filter: filter, qos: qos})
}

// RemoveSubscription implements gateway.SubscriptionManager.
func (s *session) RemoveSubscription(ctx context.Context, filter string) error {
	return s.callSession(ctx, &subsCall{filter: filter})
}

// callSession posts c to the session's goroutine and waits for its result (a session that
// is ending may never handle it: ctx bounds the wait).
func (s *session) callSession(ctx context.Context, c *subsCall) error {
	c.done = make(chan error, 1)
	s.post(event{call: c})
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onCall runs an operator's subscribe or unsubscribe on the session's goroutine.
func (s *session) onCall(c *subsCall) error {
	if s.client == nil {
		return gateway.ErrNotLoggedIn
	}
	old := s.subs[c.filter]
	if !c.add {
		if old == nil {
			return gateway.ErrNoSubscription
		}
		old.sub.Unsubscribe()
		delete(s.subs, c.filter)
		return nil
	}
	sub, err := s.client.Subscribe(c.filter, c.qos, s.deliver)
	if err != nil {
		return err
	}
	if old != nil { // a new subscription to the same filter replaces it, as SUBSCRIBE does
		old.sub.Unsubscribe()
	}
	s.subs[c.filter] = &subscription{filter: c.filter, qos: c.qos, sub: sub}
	return nil
}

// flush sends queued messages while the client can take them: a new topic is REGISTERed
// first (and the queue waits for its REGACK), QoS 1/2 messages fill the inflight window.
func (s *session) flush() {
	if s.state != stateActive && s.state != stateAwake {
		return
	}
	for len(s.resumeRegs) > 0 && s.register == nil {
		topic := s.resumeRegs[0]
		s.resumeRegs = s.resumeRegs[1:]
		if id, ok := s.topics[topic]; ok {
			s.register = &pendingRegister{topic: topic, topicID: id, msgID: s.newMsgID()}
			s.sendRegister()
		}
	}
	for len(s.queue) > 0 && s.register == nil {
		m := s.queue[0]
		if m.QoS > 0 && len(s.inflight) >= s.st.MaxInflight {
			break
		}
		idType, topicID, ok := s.downlinkTopic(m.Topic)
		if !ok {
			s.startRegister(m.Topic)
			break
		}
		s.queue = s.queue[1:]
		if m.QoS == 0 {
			s.send(&Packet{Type: Publish, Flags: Flags{TopicIDType: idType, Retain: m.Retain}, TopicID: topicID, Data: m.Payload})
			continue
		}
		o := &outgoing{msgID: s.newMsgID(), topicID: topicID, idType: idType, msg: m}
		s.inflight = append(s.inflight, o)
		s.sendPublish(o, false)
	}
	if len(s.queue) == 0 {
		s.queue = nil
	}
	s.maybeBackToSleep()
}

// downlinkTopic picks how a topic is named to this client (EMQX's message_to_packet).
func (s *session) downlinkTopic(topic string) (idType byte, id uint16, ok bool) {
	if id, ok := s.st.predefinedByTopic(topic); ok {
		return TopicPredefined, id, true
	}
	if id, ok := s.topics[topic]; ok {
		return TopicNormal, id, true
	}
	if len(topic) == 2 {
		return TopicShort, uint16(topic[0])<<8 | uint16(topic[1]), true
	}
	return 0, 0, false
}

func (s *session) startRegister(topic string) {
	id, ok := s.topicIDFor(topic)
	if !ok {
		s.client.Dropped(s.queue[0], "topic_ids_exhausted")
		s.queue = s.queue[1:]
		return
	}
	// The id is only usable once the client has acknowledged it.
	delete(s.topics, topic)
	delete(s.names, id)
	s.register = &pendingRegister{topic: topic, topicID: id, msgID: s.newMsgID()}
	s.sendRegister()
}

func (s *session) sendRegister() {
	r := s.register
	r.sent = time.Now()
	r.tries++
	s.send(&Packet{Type: Register, TopicID: r.topicID, MsgID: r.msgID, TopicName: r.topic})
	s.armRetry()
}

func (s *session) onRegack(p *Packet) {
	r := s.register
	if r == nil || p.MsgID != r.msgID {
		return
	}
	switch p.ReturnCode {
	case Accepted:
		s.register = nil
		s.topics[r.topic], s.names[r.topicID] = r.topicID, r.topic
	case Congestion:
		return // retried by the timer
	default:
		// The client refuses the topic: its queued messages cannot be delivered.
		s.register = nil
		kept := s.queue[:0]
		for _, m := range s.queue {
			if m.Topic == r.topic {
				s.client.Dropped(m, "register_refused")
			} else {
				kept = append(kept, m)
			}
		}
		s.queue = kept
	}
	s.flush()
}

func (s *session) sendPublish(o *outgoing, dup bool) {
	o.sent = time.Now()
	o.tries++
	if o.pubrec {
		s.send(&Packet{Type: Pubrel, MsgID: o.msgID})
	} else {
		s.send(&Packet{Type: Publish, Flags: Flags{DUP: dup, QoS: int8(o.msg.QoS), Retain: o.msg.Retain, TopicIDType: o.idType},
			TopicID: o.topicID, MsgID: o.msgID, Data: o.msg.Payload})
	}
	s.armRetry()
}

func (s *session) onAck(p *Packet) {
	i := -1
	for j, o := range s.inflight {
		if o.msgID == p.MsgID {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	o := s.inflight[i]
	switch {
	case p.Type == Pubrec && o.msg.QoS == 2:
		o.pubrec = true
		o.tries = 0
		s.sendPublish(o, false)
		return
	case p.Type == Puback && p.ReturnCode == InvalidTopicID:
		// The client lost the topic id: register it again and send the message after.
		delete(s.topics, o.msg.Topic)
		delete(s.names, o.topicID)
		s.queue = append([]gateway.Message{o.msg}, s.queue...)
	case p.Type == Puback && p.ReturnCode != Accepted:
		s.client.Dropped(o.msg, "rejected_by_client")
	default:
		s.client.Acked(o.msg)
	}
	s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
	s.flush()
}

// armRetry schedules the next retransmission check.
func (s *session) armRetry() {
	if s.timers[retryTimer] == nil {
		s.setTimer(retryTimer, s.registerRetry())
	}
}

// registerRetry is EMQX's 5 s REGISTER retransmission, or retry_interval when shorter.
func (s *session) registerRetry() time.Duration { return min(registerRetry, s.st.RetryInterval.D()) }

// retry retransmits a REGISTER every 5 s and unacknowledged PUBLISHes every retry_interval;
// a client that does not answer after the last try is considered lost.
func (s *session) retry() {
	delete(s.timers, retryTimer)
	if s.state != stateActive && s.state != stateAwake {
		return
	}
	now := time.Now()
	if r := s.register; r != nil && now.Sub(r.sent) >= s.registerRetry() {
		if r.tries > registerMaxRetries {
			s.send(&Packet{Type: Disconnect})
			s.lose(errMaxRetry)
			return
		}
		s.sendRegister()
	}
	for _, o := range s.inflight {
		if now.Sub(o.sent) < s.st.RetryInterval.D() {
			continue
		}
		if o.tries > s.st.MaxRetries {
			s.send(&Packet{Type: Disconnect})
			s.lose(errMaxRetry)
			return
		}
		s.sendPublish(o, true)
	}
	if s.register != nil || len(s.inflight) > 0 {
		s.armRetry()
	}
}

func (s *session) newMsgID() uint16 {
	s.nextMsgID++
	if s.nextMsgID == 0 {
		s.nextMsgID = 1
	}
	return s.nextMsgID
}
