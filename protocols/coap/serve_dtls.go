package coap

import (
	"context"
	"errors"
	"net"
	"sync"

	dtlsserver "github.com/plgd-dev/go-coap/v3/dtls/server"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/gateway"
)

// serveDTLS runs a go-coap connection for each DTLS session the core's listener accepts
// (pion; the handshake completes on the connection's first read). The core has applied the
// listener's access rules and limits before Accept returns.
func (srv *server) serveDTLS(ctx context.Context, ln net.Listener) error {
	loop, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(loop, func() { ln.Close() })
	defer stop()
	ps := newPeers()
	var wg sync.WaitGroup
	wg.Go(func() { srv.tick(loop, ps) })
	var err error
	for {
		var c net.Conn
		if c, err = ln.Accept(); err != nil {
			break
		}
		session := dtlsserver.NewSession(loop, coapnet.NewConn(c), maxMessageSize, udpclient.DefaultMTU, true)
		p := &peer{addr: gateway.AddrPort(c.RemoteAddr()), cc: srv.newConn(session)}
		ps.add(p)
		wg.Go(func() {
			defer ps.remove(p)
			if err := p.cc.Run(); err != nil {
				srv.coapError(peerError(p.addr, err))
			}
		})
	}
	cancel()
	ps.closeAll()
	wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
