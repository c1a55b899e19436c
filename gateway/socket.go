package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
)

// boundSocket is the operating-system socket of one listener. It is bound in prepare and
// may outlive the listener that bound it: a TCP socket is handed over to the listener that
// takes its address in the same change.
type boundSocket struct {
	network string // "tcp" or "udp"
	addr    string // the configured address (host:port), the handover key
	tcp     *net.TCPListener
	udp     net.PacketConn
	dtls    net.Listener // pion listener over its own UDP socket
}

// bind opens the socket for a listener. DTLS gets a pion listener whose certificate is read
// from l.tls at each handshake, so certificate rotation needs no rebind.
func bind(cfg ListenerConfig, l *listener) (*boundSocket, error) {
	addr, err := cfg.Address()
	if err != nil {
		return nil, err
	}
	switch cfg.Type {
	case TCP, SSL:
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		return &boundSocket{network: "tcp", addr: addr, tcp: ln.(*net.TCPListener)}, nil
	case UDP:
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		return &boundSocket{network: "udp", addr: addr, udp: pc}, nil
	case DTLS:
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		ln, err := dtls.Listen("udp", ua, dtlsConfig(l))
		if err != nil {
			return nil, err
		}
		return &boundSocket{network: "udp", addr: addr, dtls: ln}, nil
	}
	return nil, errors.New("unknown listener type " + string(cfg.Type))
}

// dtlsCipherSuites are offered by every DTLS listener: certificate suites for ECDSA and RSA
// keys, and the PSK suites constrained devices use (tinydtls: PSK_WITH_AES_128_CCM_8;
// pion- and mbedTLS-based stacks: PSK_WITH_AES_128_GCM_SHA256).
func dtlsCipherSuites() []dtls.CipherSuiteID {
	return []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_PSK_WITH_AES_128_CCM_8,
		dtls.TLS_PSK_WITH_AES_128_GCM_SHA256,
		dtls.TLS_PSK_WITH_AES_128_CCM,
		dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
	}
}

// dtlsConfig reads the listener's certificate and pre-shared keys at each handshake, so both
// can change without a rebind. A handshake asking for what the listener lacks fails.
func dtlsConfig(l *listener) *dtls.Config {
	return &dtls.Config{
		CipherSuites: dtlsCipherSuites(),
		GetCertificate: func(*dtls.ClientHelloInfo) (*tls.Certificate, error) {
			c := l.tls.Load()
			if c == nil || len(c.Certificates) == 0 {
				return nil, errors.New("this listener has no certificate")
			}
			return &c.Certificates[0], nil
		},
		PSK: func(identity []byte) ([]byte, error) {
			if key, ok := (*l.psk.Load())[string(identity)]; ok {
				return key, nil
			}
			return nil, fmt.Errorf("unknown psk identity %q", identity)
		},
		PSKIdentityHint:      []byte("xgate"),
		ExtendedMasterSecret: dtls.RequestExtendedMasterSecret,
	}
}

// LocalAddr is the address the socket is bound to (with the real port when bind said 0).
func (b *boundSocket) LocalAddr() net.Addr {
	switch {
	case b.tcp != nil:
		return b.tcp.Addr()
	case b.udp != nil:
		return b.udp.LocalAddr()
	case b.dtls != nil:
		return b.dtls.Addr()
	}
	return nil
}

func (b *boundSocket) Close() error {
	switch {
	case b.tcp != nil:
		return b.tcp.Close()
	case b.udp != nil:
		return b.udp.Close()
	case b.dtls != nil:
		return b.dtls.Close()
	}
	return nil
}

// streamListener is what a protocol accepts from: it applies the listener's access rules,
// max_connections and max_conn_rate, counts open connections, and wraps ssl connections in
// TLS with the listener's current certificate.
type streamListener struct {
	inner    net.Listener
	l        *listener
	tcp      *net.TCPListener
	handover atomic.Bool // Close only detaches: the socket goes on to another listener
	detached atomic.Bool
}

func (s *streamListener) Accept() (net.Conn, error) {
	for {
		c, err := s.inner.Accept()
		if s.detached.Load() {
			if c != nil {
				c.Close()
			}
			return nil, net.ErrClosed
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return nil, err
		}
		if !s.l.admit(AddrPort(c.RemoteAddr()), s.l.conns.Load()) {
			c.Close()
			continue
		}
		cc := &countedConn{Conn: c, l: s.l}
		s.l.conns.Add(1)
		if s.l.cfg.Load().Type == SSL {
			return tls.Server(cc, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return s.l.tls.Load(), nil
			}}), nil
		}
		return cc, nil
	}
}

// Close stops the protocol's accept loop. A TCP socket that is handed over to another
// listener is only detached: Accept is woken by a deadline and the socket stays open.
func (s *streamListener) Close() error {
	if s.handover.Load() {
		// Only the first Close may touch the shared socket: a late second one would wake
		// the next owner's Accept.
		if s.detached.CompareAndSwap(false, true) {
			return s.tcp.SetDeadline(time.Now())
		}
		return nil
	}
	return s.inner.Close()
}

func (s *streamListener) Addr() net.Addr { return s.inner.Addr() }

// countedConn decrements the listener's connection count once when closed.
type countedConn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.conns.Add(-1) })
	return c.Conn.Close()
}

// rateLimiter is a token bucket refilled at rate tokens per second, holding at most rate.
type rateLimiter struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (r *rateLimiter) allow(rate int) bool {
	if rate <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.last.IsZero() {
		r.tokens = float64(rate)
	} else {
		r.tokens += now.Sub(r.last).Seconds() * float64(rate)
		if r.tokens > float64(rate) {
			r.tokens = float64(rate)
		}
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// AddrPort converts a socket address to a netip.AddrPort (zero when it has none).
func AddrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.AddrPort()
	case *net.UDPAddr:
		return v.AddrPort()
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// StreamConn is one accepted connection of a stream protocol, as ServeStream drives it.
type StreamConn interface {
	// Run serves the connection until it closes.
	Run(ctx context.Context)
	// Kick says goodbye and closes the connection; it must not block.
	Kick(reason error)
}

// ServeStream is the accept loop of a stream protocol: each accepted connection is served
// by its own goroutine. When ctx ends (or the listener closes) every open connection is
// kicked with ErrShutdown, and ServeStream returns once all of them have finished.
func ServeStream(ctx context.Context, ln net.Listener, newConn func(net.Conn) StreamConn) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open = map[StreamConn]struct{}{}
	)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		if c, err = ln.Accept(); err != nil {
			break
		}
		sc := newConn(c)
		mu.Lock()
		open[sc] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc.Run(ctx)
			mu.Lock()
			delete(open, sc)
			mu.Unlock()
		}()
	}
	mu.Lock()
	for sc := range open {
		sc.Kick(ErrShutdown)
	}
	mu.Unlock()
	wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// PeerCertificate returns the client certificate of a TLS or DTLS connection, or nil. For
// TLS it is known once the handshake is done (by the first read).
func PeerCertificate(c net.Conn) *x509.Certificate {
	switch v := c.(type) {
	case *countedConn:
		return PeerCertificate(v.Conn)
	case *tls.Conn:
		if certs := v.ConnectionState().PeerCertificates; len(certs) > 0 {
			return certs[0]
		}
	case *dtls.Conn:
		st, ok := v.ConnectionState()
		if ok && len(st.PeerCertificates) > 0 {
			cert, err := x509.ParseCertificate(st.PeerCertificates[0])
			if err == nil {
				return cert
			}
		}
	}
	return nil
}

// SetPeerCertificate fills ci's certificate fields (EMQX's cn and dn) from cert.
func (ci *ClientInfo) SetPeerCertificate(cert *x509.Certificate) {
	if cert == nil {
		return
	}
	ci.CertCommonName = cert.Subject.CommonName
	ci.CertSubject = cert.Subject.String()
}
