package coap

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/net/monitor/inactivity"
	"github.com/plgd-dev/go-coap/v3/options/config"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// maxMessageSize bounds a CoAP message (go-coap's default; larger bodies go block-wise). No
// UDP datagram is larger, so a read buffer of this size never truncates.
const maxMessageSize = 64 << 10

// connConfig returns go-coap's configuration of the listener's connections, from the
// settings read when the listener starts.
func (srv *server) connConfig(st Settings) udpclient.Config {
	router := mux.NewRouter()
	router.DefaultHandle(mux.HandlerFunc(srv.handle))
	cfg := udpclient.DefaultConfig
	cfg.Handler = mux.ToHandler[*udpclient.Conn](router)
	cfg.Errors = srv.coapError
	cfg.ProcessReceivedMessage = srv.process
	cfg.MessagePool = pool.New(1024, 2048) // go-coap's sizes, but the listener's own
	cfg.MaxMessageSize = maxMessageSize
	cfg.BlockwiseSZX = blockwise.SZX1024
	cfg.TransmissionNStart = 1
	cfg.TransmissionAcknowledgeTimeout = st.AckTimeout.D()
	cfg.TransmissionMaxRetransmit = uint32(st.MaxRetransmit)
	return cfg
}

// newConn makes a go-coap connection over session with the listener's settings and a
// bounded response cache, and ends its channel when it closes.
func (srv *server) newConn(session udpclient.Session) *udpclient.Conn {
	cfg := srv.cfg // NewConnWithOpts fills in defaults: give it a copy
	cc := udpclient.NewConnWithOpts(session, &cfg,
		udpclient.WithInactivityMonitor(inactivity.New(srv.idle, srv.inactive)),
		udpclient.WithBlockWise(func(cc *udpclient.Conn) *blockwise.BlockWise[*udpclient.Conn] {
			// A client's GETs for the rest of a large notification refer to its observation.
			return blockwise.New(cc, blockTimeout, srv.coapError, func(t message.Token) (*pool.Message, bool) {
				return cc.GetObservationRequest(t)
			})
		}),
		udpclient.WithResponseMessageCache(&responseCache{}),
	)
	cc.AddOnClose(func() { srv.closed1(cc) })
	return cc
}

// process runs one request through go-coap's handling, accounted for in workers so that
// Serve waits for it; nothing new starts once the server is stopping.
func (srv *server) process(req *pool.Message, cc *udpclient.Conn, h config.HandlerFunc[*udpclient.Conn]) {
	if !srv.startWorker() {
		cc.ReleaseMessage(req)
		return
	}
	defer srv.workers.Done()
	cc.ProcessReceivedMessageWithHandler(req, h)
}

// coapError logs go-coap's errors, except those of closing connections.
func (srv *server) coapError(err error) {
	if !coapnet.IsCancelOrCloseError(err) {
		srv.env.Log().Debug("coap", "error", err)
	}
}

// peers are a listener's open connections by remote address.
type peers struct {
	mu sync.Mutex
	m  map[netip.AddrPort]*peer
}

// peer is one connection. release, for UDP, runs the close callbacks of a closed connection
// and stops its goroutines; a DTLS connection does that itself when its read loop ends.
type peer struct {
	addr    netip.AddrPort
	cc      *udpclient.Conn
	release func()
}

func newPeers() *peers { return &peers{m: map[netip.AddrPort]*peer{}} }

func (ps *peers) get(addr netip.AddrPort) *peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.m[addr]
}

func (ps *peers) add(p *peer) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.m[p.addr] = p
}

// remove forgets p; false when it was already gone (or replaced).
func (ps *peers) remove(p *peer) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m[p.addr] != p {
		return false
	}
	delete(ps.m, p.addr)
	return true
}

func (ps *peers) count() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}

func (ps *peers) list() []*peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]*peer, 0, len(ps.m))
	for _, p := range ps.m {
		out = append(out, p)
	}
	return out
}

// drop forgets a closed connection and releases it.
func (ps *peers) drop(p *peer) {
	if ps.remove(p) && p.release != nil {
		p.release()
	}
}

// closeAll closes every connection.
func (ps *peers) closeAll() {
	for _, p := range ps.list() {
		p.cc.Close()
		ps.drop(p)
	}
}

// tick runs go-coap's timers of every connection until ctx ends: retransmissions, the
// expiry of exchanges and cached responses, inactivity; and drops closed connections.
func (srv *server) tick(ctx context.Context, ps *peers) {
	t := time.NewTicker(srv.tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, p := range ps.list() {
				if p.cc.Context().Err() != nil {
					ps.drop(p)
					continue
				}
				p.cc.CheckExpirations(now)
			}
		}
	}
}

// peerError names the peer of a connection error.
func peerError(addr netip.AddrPort, err error) error { return fmt.Errorf("%v: %w", addr, err) }
