package web

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// EventsConfig tunes the event bus; zero fields take the defaults of DefaultEventsConfig.
type EventsConfig struct {
	// StreamQueue is how many events an /api/v5/events stream may have waiting.
	StreamQueue int
	// Heartbeat is how often an idle stream gets an SSE comment, which also finds out that
	// its client went away.
	Heartbeat time.Duration
	// WebhookQueue is how many events a webhook may have waiting.
	WebhookQueue int
	// WebhookTimeout bounds one POST.
	WebhookTimeout time.Duration
	// WebhookAttempts is how many times an event is POSTed before it counts as failed.
	WebhookAttempts int
	// WebhookBackoff is the pause before the first retry; it doubles for each later one.
	WebhookBackoff time.Duration
}

// DefaultEventsConfig returns the defaults.
func DefaultEventsConfig() EventsConfig {
	return EventsConfig{
		StreamQueue:     256,
		Heartbeat:       15 * time.Second,
		WebhookQueue:    1000,
		WebhookTimeout:  5 * time.Second,
		WebhookAttempts: 3,
		WebhookBackoff:  time.Second,
	}
}

func (c EventsConfig) withDefaults() EventsConfig {
	d := DefaultEventsConfig()
	if c.StreamQueue <= 0 {
		c.StreamQueue = d.StreamQueue
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.WebhookQueue <= 0 {
		c.WebhookQueue = d.WebhookQueue
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = d.WebhookTimeout
	}
	if c.WebhookAttempts <= 0 {
		c.WebhookAttempts = d.WebhookAttempts
	}
	if c.WebhookBackoff <= 0 {
		c.WebhookBackoff = d.WebhookBackoff
	}
	return c
}

// Events is the live event bus. The gateway hooks (Hooks) feed it and it fans every event
// out to its sinks: the open /api/v5/events streams and the webhook workers. Each sink has
// a bounded queue; when that is full the event is dropped and counted, so a slow consumer
// never slows a client down. Close ends the streams and stops the workers.
type Events struct {
	log    *slog.Logger
	cfg    EventsConfig
	store  *db.DB
	client *http.Client

	// sinks is what the hook callback reads: an immutable list replaced under mu.
	sinks atomic.Pointer[evSinks]

	mu       sync.Mutex // guards streams, webhooks, closed and the replacement of sinks
	streams  map[*evSink]struct{}
	webhooks map[string]*evWebhook
	closed   bool
	done     chan struct{}   // closed by Close; ends the streams
	ctx      context.Context // cancelled by Close; stops the webhook workers
	cancel   context.CancelFunc
	wg       sync.WaitGroup // streams and webhook workers

	// whMu makes webhook changes one at a time, so that the workers follow the store.
	whMu sync.Mutex
}

// NewEvents builds the bus and starts a worker for every enabled webhook in store.
func NewEvents(ctx context.Context, store *db.DB, log *slog.Logger, cfg EventsConfig) (*Events, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	e := &Events{
		log:   log.With("component", "events"),
		cfg:   cfg.withDefaults(),
		store: store,
		client: &http.Client{
			Transport: transport,
			// A redirect is a misconfigured URL: following it would turn the POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		streams:  map[*evSink]struct{}{},
		webhooks: map[string]*evWebhook{},
		done:     make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.sinks.Store(&evSinks{})
	if err := e.changeWebhooks(ctx, func() error { return nil }); err != nil {
		e.Close(ctx)
		return nil, err
	}
	return e, nil
}

// Hooks returns the gateway hooks that feed the bus, one callback for every event type; give
// them to the Manager (gateway.Deps.Hooks).
func (e *Events) Hooks() *gateway.Hooks {
	fn := []func(gateway.Event){e.publish}
	return &gateway.Hooks{
		OnClientConnect: fn, OnClientConnack: fn, OnClientAuthenticate: fn, OnClientConnected: fn,
		OnClientDisconnected: fn, OnClientAuthorize: fn, OnClientSubscribe: fn, OnClientUnsubscribe: fn,
		OnSessionCreated: fn, OnSessionSubscribed: fn, OnSessionUnsubscribed: fn, OnSessionTerminated: fn,
		OnMessagePublish: fn, OnMessageDelivered: fn, OnMessageAcked: fn, OnMessageDropped: fn,
	}
}

// Close ends the open streams, stops the webhook workers (a POST in flight is cancelled and
// queued events are discarded) and waits for them until ctx ends. Events fired afterwards
// are ignored. Call it before Server.Shutdown, which otherwise waits for the open streams.
func (e *Events) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.done)
		e.cancel()
		e.sinks.Store(&evSinks{})
	}
	e.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		e.client.CloseIdleConnections()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// evEventTypes lists every gateway event type; an event type's bit in an evMask is its
// index here. It is never modified.
var evEventTypes = [...]gateway.EventType{
	gateway.ClientConnect, gateway.ClientConnack, gateway.ClientAuthenticate, gateway.ClientConnected,
	gateway.ClientDisconnected, gateway.ClientAuthorize, gateway.ClientSubscribe, gateway.ClientUnsubscribe,
	gateway.SessionCreated, gateway.SessionSubscribed, gateway.SessionUnsubscribed, gateway.SessionTerminated,
	gateway.MessagePublish, gateway.MessageDelivered, gateway.MessageAcked, gateway.MessageDropped,
}

// evMask is a set of event types.
type evMask uint32

const evAllTypes evMask = 1<<len(evEventTypes) - 1

// evTypeBit returns the bit of t, 0 for an unknown type.
func evTypeBit(t gateway.EventType) evMask {
	for i, known := range evEventTypes {
		if known == t {
			return 1 << i
		}
	}
	return 0
}

// evEvent is what the bus carries: a copy of the parts of a gateway.Event that consumers see,
// without the password, attributes or payload. It is copied by value into the queues, so
// the hook callback allocates nothing.
type evEvent struct {
	Type     gateway.EventType
	Gateway  string
	Listener string
	ClientID string
	Username string
	Peer     netip.AddrPort
	Topic    string
	QoS      byte
	Reason   string
	Allowed  bool
	At       time.Time
}

func evFromGateway(g gateway.Event) evEvent {
	ev := evEvent{
		Type: g.Type, Gateway: g.Client.Gateway, Listener: g.Client.Listener, ClientID: g.Client.ClientID,
		Username: g.Client.Username, Peer: g.Client.Peer, Topic: g.Topic, QoS: g.QoS, Reason: g.Reason,
		Allowed: g.Allowed, At: g.Time,
	}
	if g.Message != nil {
		ev.QoS = g.Message.QoS
	}
	return ev
}

// evJSON is an event as streams and webhooks send it.
type evJSON struct {
	Type     gateway.EventType `json:"type"`
	Gateway  string            `json:"gateway"`
	Listener string            `json:"listener"`
	ClientID string            `json:"clientid"`
	Username string            `json:"username"`
	Peer     string            `json:"peer"`
	Topic    string            `json:"topic"`
	QoS      byte              `json:"qos"`
	Reason   string            `json:"reason"`
	Allowed  bool              `json:"allowed"`
	At       string            `json:"at"` // RFC 3339 with milliseconds, UTC
}

func (ev *evEvent) marshal() []byte {
	v := evJSON{Type: ev.Type, Gateway: ev.Gateway, Listener: ev.Listener, ClientID: ev.ClientID,
		Username: ev.Username, Topic: ev.Topic, QoS: ev.QoS, Reason: ev.Reason, Allowed: ev.Allowed,
		At: ev.At.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	if ev.Peer.IsValid() {
		v.Peer = ev.Peer.String()
	}
	b, _ := json.Marshal(v) // strings and numbers only: cannot fail
	return b
}

// evSink is one consumer of the bus: a filter and a bounded queue.
type evSink struct {
	types    evMask
	gateway  string // "" = any
	clientID string // "" = any
	queue    chan evEvent
	dropped  *atomic.Int64
}

func (s *evSink) offer(ev *evEvent, bit evMask) {
	if s.types&bit == 0 || s.gateway != "" && s.gateway != ev.Gateway || s.clientID != "" && s.clientID != ev.ClientID {
		return
	}
	select {
	case s.queue <- *ev:
	default:
		s.dropped.Add(1)
	}
}

// evSinks is the immutable list the hook callback reads, with the union of their types.
type evSinks struct {
	list []*evSink
	mask evMask
}

// publish is the hook callback. It runs on the client's goroutine: it only filters and
// offers a copy of the event to each queue, never waiting.
func (e *Events) publish(g gateway.Event) {
	st := e.sinks.Load()
	bit := evTypeBit(g.Type)
	if st.mask&bit == 0 {
		return
	}
	ev := evFromGateway(g)
	for _, s := range st.list {
		s.offer(&ev, bit)
	}
}

// rebuildLocked replaces the sink list after a change of streams or webhooks; e.mu is held.
func (e *Events) rebuildLocked() {
	if e.closed {
		return
	}
	next := &evSinks{}
	for s := range e.streams {
		next.list = append(next.list, s)
		next.mask |= s.types
	}
	for _, wh := range e.webhooks {
		if wh.sink != nil {
			next.list = append(next.list, wh.sink)
			next.mask |= wh.sink.types
		}
	}
	e.sinks.Store(next)
}

// openStream adds a stream sink; false once Close has begun.
func (e *Events) openStream(types evMask, gw, clientID string) (*evSink, bool) {
	s := &evSink{types: types, gateway: gw, clientID: clientID,
		queue: make(chan evEvent, e.cfg.StreamQueue), dropped: new(atomic.Int64)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false
	}
	e.streams[s] = struct{}{}
	e.wg.Add(1)
	e.rebuildLocked()
	return s, true
}

func (e *Events) closeStream(s *evSink) {
	e.mu.Lock()
	delete(e.streams, s)
	e.rebuildLocked()
	e.mu.Unlock()
	e.wg.Done()
}

// openStreams counts the open streams, for tests.
func (e *Events) openStreams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.streams)
}

// stream writes the events of s to w as Server-Sent Events, one JSON object per "data"
// line, until the client goes away (a write fails) or Close. When events were dropped
// because the client did not keep up, an "event: dropped" tells how many so far.
func (e *Events) stream(w *bufio.Writer, s *evSink) {
	defer e.closeStream(s)
	heartbeat := time.NewTicker(e.cfg.Heartbeat)
	defer heartbeat.Stop()
	// The comment makes the response start at once, so the client sees the stream open.
	w.WriteString(": xgate events\n\n")
	if w.Flush() != nil {
		return
	}
	var reported int64
	for {
		select {
		case <-e.done:
			return
		case <-heartbeat.C:
			w.WriteString(": keepalive\n\n")
		case ev := <-s.queue:
			evWriteData(w, &ev)
			// Write what else is waiting before flushing, so a burst costs one write.
			for more := len(s.queue); more > 0; more-- {
				ev := <-s.queue
				evWriteData(w, &ev)
			}
		}
		if n := s.dropped.Load(); n != reported {
			reported = n
			w.WriteString("event: dropped\ndata: {\"dropped\":")
			w.WriteString(strconv.FormatInt(n, 10))
			w.WriteString("}\n\n")
		}
		if w.Flush() != nil {
			return
		}
	}
}

func evWriteData(w *bufio.Writer, ev *evEvent) {
	w.WriteString("data: ")
	w.Write(ev.marshal())
	w.WriteString("\n\n")
}
