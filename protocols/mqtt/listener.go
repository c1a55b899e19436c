package mqtt

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// defaultConnectTimeout is Config.ConnectTimeout when unset (EMQX's idle_timeout is 15 s).
const defaultConnectTimeout = 15 * time.Second

// netListener is what the TCP and WebSocket listeners share. Unlike mochi's listeners, they
// bind in Init, so that a busy port is an error of New; they bound the time until CONNECT;
// and Close closes their connections and waits for the goroutines serving them.
type netListener struct {
	id, address    string
	connectTimeout time.Duration
	log            *slog.Logger
	ln             net.Listener
	served         chan struct{} // closed when Serve returns
	done           chan struct{} // closed, under mu, when Close starts

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	running sync.WaitGroup // goroutines between enter and leave
}

func newNetListener(id, address string, connectTimeout time.Duration) *netListener {
	return &netListener{
		id:             id,
		address:        address,
		connectTimeout: connectTimeout,
		served:         make(chan struct{}),
		done:           make(chan struct{}),
		conns:          map[net.Conn]struct{}{},
	}
}

func (l *netListener) ID() string { return l.id }

// Address is the bound address once Init has succeeded, so that port 0 reports the real port.
func (l *netListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// Init binds the listener.
func (l *netListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.ln = ln
	return nil
}

// closing reports whether Close has started; call it with mu held.
func (l *netListener) closing() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// enter counts a goroutine that Close must wait for, or returns false once Close has started.
// Counting under mu, which Close takes to start, means no Add can race with Close's Wait.
func (l *netListener) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing() {
		return false
	}
	l.running.Add(1)
	return true
}

func (l *netListener) leave() { l.running.Done() }

// serveConn hands c to mochi and closes it when mochi is done with it. The caller has entered.
func (l *netListener) serveConn(establish listeners.EstablishFn, c net.Conn) {
	l.mu.Lock()
	if l.closing() {
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

	// mochi sets no deadline until it has read CONNECT, so a silent or slow peer would hold
	// the connection forever. Once it has the CONNECT, mochi replaces this deadline with its
	// keepalive one (keepalive + keepalive/2 whole seconds, none for keepalive 0) and
	// refreshes it before every packet, so nothing needs clearing here.
	_ = c.SetDeadline(time.Now().Add(l.connectTimeout))
	if err := establish(l.id, c); err != nil {
		l.log.Debug("mqtt connection ended", "peer", c.RemoteAddr(), "error", err)
	}
}

// Close stops accepting, lets mochi disconnect its clients, closes the connections left (those
// still before CONNECT or in authentication) and waits for every goroutine serving one. mochi
// waits for its clients only after closing every listener, so no connection may reach it
// once Close has returned.
func (l *netListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closing() {
		l.mu.Unlock()
		return
	}
	close(l.done)
	l.mu.Unlock()

	if l.ln != nil {
		_ = l.ln.Close()
	}
	closeClients(l.id)
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.running.Wait()
}

// wait returns when Serve has returned; call it only after Close of a served listener, since
// mochi runs Serve in a goroutine that Close does not wait for.
func (l *netListener) wait() { <-l.served }

// tcpListener is a mochi listener for MQTT over TCP. mochi's own holds a connection that never
// sends CONNECT forever and may hand mochi a connection accepted while it closes.
type tcpListener struct {
	*netListener
}

var _ listeners.Listener = (*tcpListener)(nil)

func newTCPListener(id, address string, connectTimeout time.Duration) *tcpListener {
	return &tcpListener{newNetListener(id, address, connectTimeout)}
}

func (l *tcpListener) Protocol() string { return "tcp" }

const (
	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed Accept.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Serve accepts connections until Close.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Accept fails while the process is out of file descriptors or memory. mochi's
			// listener then stops for good, so a connection flood would leave it dead; pause
			// and retry instead, as net/http does.
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			l.log.Error("mqtt listener cannot accept", "error", err, "retry_in", backoff)
			select {
			case <-l.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if !l.enter() {
			_ = c.Close() // accepted while closing
			return
		}
		go func() {
			defer l.leave()
			l.serveConn(establish, c)
		}()
	}
}
