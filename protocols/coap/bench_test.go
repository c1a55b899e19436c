package coap_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/gateway/gatewaytest"
)

// BenchmarkPostFrom200Sockets measures CoAP NON POST /ps/bench from 200 UDP sockets →
// broker → one MQTT subscriber, with at most `window` messages in flight (UDP has no flow
// control). The datagram is written out by hand (RFC 7252 §3): NON POST, Uri-Path "ps",
// "bench", a 5-byte payload; only the message id changes, so none is a duplicate.
func BenchmarkPostFrom200Sockets(b *testing.B) {
	const sockets, window = 200, 200
	f := setup(b, "", nil)
	var got atomic.Int64
	if tok := f.mqtt("bench-sub").Subscribe("bench", 0, func(paho.Client, paho.Message) { got.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	conns := make([]net.Conn, sockets)
	for i := range conns {
		c, err := net.Dial("udp", f.addr("udp:default"))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	datagram := []byte{0x50, 0x02, 0, 0, 0xb2, 'p', 's', 0x05, 'b', 'e', 'n', 'c', 'h', 0xff, 'x', 'x', 'x', 'x', 'x'}
	b.SetBytes(5)
	gatewaytest.Throughput(b, window, func(i int) {
		mid := uint16(i / sockets)
		datagram[2], datagram[3] = byte(mid>>8), byte(mid)
		conns[i%sockets].Write(datagram)
	}, got.Load)
}
