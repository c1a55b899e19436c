package mqtt

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

const (
	// wsConnectTimeout bounds the time from the WebSocket upgrade to the MQTT CONNECT. mochi
	// sets no deadline until CONNECT arrives, so without it a silent peer would hold a
	// connection forever (EMQX idle_timeout is 15 s).
	wsConnectTimeout = 15 * time.Second
	// wsHeaderTimeout bounds the HTTP upgrade request.
	wsHeaderTimeout = 10 * time.Second
)

// errNotBinary is a text frame: MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1].
var errNotBinary = errors.New("websocket frame is not binary")

// wsListener is a mochi listener for MQTT over WebSocket. Unlike mochi's, it binds in Init,
// so that a busy port is an error of New, and it closes and waits for its connections in
// Close.
type wsListener struct {
	id, address string
	log         *slog.Logger
	ln          net.Listener
	http        *http.Server
	upgrader    websocket.Upgrader
	establish   listeners.EstablishFn // set by Serve before the first request
	served      chan struct{}         // closed when Serve returns

	mu       sync.Mutex
	closed   bool
	conns    map[*wsConn]struct{}
	handlers sync.WaitGroup
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id, address string) *wsListener {
	return &wsListener{
		id:      id,
		address: address,
		served:  make(chan struct{}),
		conns:   map[*wsConn]struct{}{},
		upgrader: websocket.Upgrader{
			HandshakeTimeout: wsHeaderTimeout,
			// Small read buffers and pooled write buffers keep idle connections cheap.
			ReadBufferSize:  1 << 10,
			WriteBufferSize: 1 << 10,
			WriteBufferPool: &sync.Pool{},
			Subprotocols:    []string{"mqtt"},
			// MQTT authenticates in CONNECT, not with cookies, so a browser page from any
			// origin may connect, as with mochi's and EMQX's listeners.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// Init binds the listener.
func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	l.http = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: wsHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return nil
}

// Serve accepts upgrades until Close.
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	l.establish = establish
	if err := l.http.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.log.Error("mqtt websocket listener stopped", "error", err)
	}
}

// ServeHTTP upgrades any path: clients use "/mqtt" or "/".
func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	l.handlers.Add(1)
	l.mu.Unlock()
	defer l.handlers.Done()

	ws, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	c := &wsConn{Conn: ws.NetConn(), ws: ws}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return
	}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		_ = c.Close()
	}()

	_ = c.SetReadDeadline(time.Now().Add(wsConnectTimeout)) // mochi replaces it after CONNECT
	if err := l.establish(l.id, c); err != nil {
		l.log.Debug("mqtt websocket connection ended", "peer", r.RemoteAddr, "error", err)
	}
}

// Close stops accepting, lets mochi disconnect its clients, closes what is left and waits for
// every connection handler.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()

	if l.http != nil {
		_ = l.http.Close() // hijacked connections are ours to close
	}
	if l.ln != nil {
		_ = l.ln.Close() // http.Server only closes listeners it has served
	}
	closeClients(l.id)
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.handlers.Wait()
}

// wait returns when Serve has returned; call it only after Close of a served listener.
func (l *wsListener) wait() { <-l.served }

// wsConn is one MQTT byte stream over WebSocket binary messages. Addresses and deadlines are
// the underlying connection's.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader // the message being read, if any
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errNotBinary
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue // MQTT packets may span messages
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message. mochi serialises writes per client.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error { return c.ws.Close() }
