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

// wsHeaderTimeout bounds the HTTP upgrade request. The time from the upgrade to the MQTT
// CONNECT is bounded by Config.ConnectTimeout, as for TCP.
const wsHeaderTimeout = 10 * time.Second

// errNotBinary is a text frame: MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1].
var errNotBinary = errors.New("websocket frame is not binary")

// wsListener is a mochi listener for MQTT over WebSocket. Unlike mochi's, it binds in Init,
// so that a busy port is an error of New, and it closes and waits for its connections in
// Close.
type wsListener struct {
	*netListener
	http      *http.Server
	upgrader  websocket.Upgrader
	establish listeners.EstablishFn // set by Serve before the first request
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id, address string, connectTimeout time.Duration) *wsListener {
	return &wsListener{
		netListener: newNetListener(id, address, connectTimeout),
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

func (l *wsListener) Protocol() string { return "ws" }

// Init binds the listener.
func (l *wsListener) Init(log *slog.Logger) error {
	if err := l.netListener.Init(log); err != nil {
		return err
	}
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
	// Entered before the upgrade: once hijacked, the connection is no longer http.Server's
	// to close, so Close must wait for this handler to track or close it.
	if !l.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer l.leave()
	ws, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	l.serveConn(l.establish, &wsConn{Conn: ws.NetConn(), ws: ws})
}

// Close closes the HTTP server, whose hijacked connections are ours to close, and then the
// listener as for TCP.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	if l.http != nil {
		_ = l.http.Close()
	}
	l.netListener.Close(closeClients)
}

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
