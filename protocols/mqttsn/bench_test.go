package mqttsn_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/gateway/gatewaytest"
)

// BenchmarkPublishQoS0From100Clients measures MQTT-SN QoS 0 PUBLISH from 100 clients →
// broker → one MQTT subscriber over loopback UDP, with at most `window` messages in flight
// (UDP has no flow control: more would only measure socket buffer overflow).
func BenchmarkPublishQoS0From100Clients(b *testing.B) {
	const clients, window = 100, 200
	f := setup(b, "", nil)
	var got atomic.Int64
	if tok := f.mqtt("bench-sub").Subscribe("bench/#", 0, func(paho.Client, paho.Message) { got.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	conns := make([]*sn, clients)
	for i := range conns {
		c := f.dial()
		c.connect(fmt.Sprintf("b%03d", i), true, 300)
		c.send("0d 0a 00 00 00 01 62 65 6e 63 68 2f 31") // REGISTER "bench/1"
		c.expect("07 0b 04 01 00 01 00")
		conns[i] = c
	}
	payload := "0c 0c 00 04 01 00 00 " + "78 78 78 78 78" // PUBLISH QoS 0 id 1025, 5 bytes
	datagram := unhex(b, payload)
	b.SetBytes(5)
	gatewaytest.Throughput(b, window, func(i int) { conns[i%clients].c.Write(datagram) }, got.Load)
}
