package stomp_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/gateway/gatewaytest"
)

// BenchmarkSendToMQTT measures STOMP SEND → broker → MQTT subscriber over real loopback
// sockets, with at most `window` messages in flight so that no queue overflows.
func BenchmarkSendToMQTT(b *testing.B) {
	const window = 200
	f := setup(b, nil)
	var got atomic.Int64
	sub := f.mqtt("bench-sub")
	if tok := sub.Subscribe("bench/#", 0, func(paho.Client, paho.Message) { got.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	r := dialRaw(b, f.addr("tcp:default"))
	r.connect()
	frame := "SEND\ndestination:bench/1\ncontent-length:64\n\n" + strings.Repeat("x", 64) + "\x00"
	b.SetBytes(64)
	gatewaytest.Throughput(b, window, func(int) { r.send(frame) }, got.Load)
}
