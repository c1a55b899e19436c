package coap

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"

	"github.com/xgate/xgate/gateway"
)

// serveUDP is a udp listener's read loop. It keeps one go-coap connection per remote
// address (go-coap's udp server does the same but cannot be given a response cache).
func (srv *server) serveUDP(ctx context.Context, uc *net.UDPConn) error {
	loop, cancel := context.WithCancel(ctx)
	ps := newPeers()
	var ticker sync.WaitGroup
	ticker.Go(func() { srv.tick(loop, ps) })
	defer func() {
		cancel()
		ticker.Wait()
		ps.closeAll()
	}()
	wake := context.AfterFunc(loop, func() { uc.SetReadDeadline(time.Now()) })
	defer wake()

	l := coapnet.NewUDPConn("udp", uc)
	buf := make([]byte, maxMessageSize)
	for {
		var (
			from *net.UDPAddr
			cm   *coapnet.ControlMessage
		)
		n, err := l.ReadWithOptions(buf, coapnet.WithGetRemoteAddr(&from), coapnet.WithGetControlMessage(&cm))
		switch {
		case err == nil:
			srv.datagram(loop, l, ps, from, cm, buf[:n])
		case ctx.Err() != nil || errors.Is(err, net.ErrClosed):
			return nil
		case coapnet.IsMessageSizeError(err):
			srv.env.Malformed()
		default:
			return err
		}
	}
}

// datagram hands a datagram to its peer's connection. A new peer gets one if the listener
// admits it; a closed connection is released and replaced.
func (srv *server) datagram(ctx context.Context, l *coapnet.UDPConn, ps *peers, from *net.UDPAddr, cm *coapnet.ControlMessage, data []byte) {
	addr := gateway.AddrPort(from)
	p := ps.get(addr)
	if p != nil && p.cc.Context().Err() != nil {
		ps.drop(p)
		p = nil
	}
	created := p == nil
	if created {
		if !srv.env.Admit(addr, ps.count()) {
			return
		}
		p = srv.newUDPPeer(ctx, l, from, addr)
		ps.add(p)
	}
	err := p.cc.Process(cm, data)
	var bad *udpclient.MalformedMessageError
	switch {
	case err == nil:
	case errors.As(err, &bad):
		srv.env.Malformed()
		srv.env.Log().Debug("malformed coap datagram dropped", "peer", addr, "error", err)
		if created { // a peer that sent only junk gets no connection
			p.cc.Close()
			ps.drop(p)
		}
		reject(l, from, cm, bad)
	default:
		// As go-coap's server: a datagram that could not be handled (say, its 4.02 answer
		// could not be sent) ends the connection.
		srv.coapError(peerError(addr, err))
		p.cc.Close()
	}
}

// reject answers a malformed CON with RST (RFC 7252 §4.2) when its header could be read;
// a datagram of another CoAP version is silently ignored (§3).
func reject(l *coapnet.UDPConn, to *net.UDPAddr, cm *coapnet.ControlMessage, bad *udpclient.MalformedMessageError) {
	if bad.InvalidVersion || !bad.HasHeader || bad.Type != message.Confirmable {
		return
	}
	rst := []byte{0x70, 0, byte(bad.MessageID >> 8), byte(bad.MessageID)} // ver 1, RST, 0.00
	opts := []coapnet.UDPWriteOption{coapnet.WithRemoteAddr(to)}
	if cm != nil { // answer from the address the datagram was sent to
		opts = append(opts, coapnet.WithControlMessage(&coapnet.ControlMessage{IfIndex: cm.GetIfIndex(), Src: cm.Dst}))
	}
	l.WriteWithOptions(rst, opts...)
}

// newUDPPeer makes the connection of a new remote address.
func (srv *server) newUDPPeer(ctx context.Context, l *coapnet.UDPConn, from *net.UDPAddr, addr netip.AddrPort) *peer {
	done, release := context.WithCancel(context.Background())
	s := &udpSession{
		Session: udpserver.NewSession(ctx, done, l, from, maxMessageSize, udpclient.DefaultMTU, false, srv.coapError),
		done:    release,
	}
	return &peer{addr: addr, cc: srv.newConn(s), release: s.release}
}

// udpSession is go-coap's server-side UDP session plus the release step its own server keeps
// unexported: run the connection's close callbacks, then end Done, which stops the
// connection's goroutines.
type udpSession struct {
	*udpserver.Session
	done context.CancelFunc

	mu      sync.Mutex
	onClose []func()
	once    sync.Once
}

func (s *udpSession) AddOnClose(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onClose = append(s.onClose, f)
}

func (s *udpSession) release() {
	s.once.Do(func() {
		s.Close()
		s.mu.Lock()
		fs := s.onClose
		s.onClose = nil
		s.mu.Unlock()
		for _, f := range fs {
			f()
		}
		s.done()
	})
}
