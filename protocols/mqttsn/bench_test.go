package mqttsn_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
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
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i)-got.Load() >= window {
			time.Sleep(20 * time.Microsecond)
		}
		conns[i%clients].c.Write(datagram)
	}
	// UDP may lose a datagram: wait until everything arrived or nothing more arrives for a
	// second, and report the loss rather than hang.
	last, lastChange := got.Load(), time.Now()
	for got.Load() < int64(b.N) && time.Since(lastChange) < time.Second {
		if n := got.Load(); n != last {
			last, lastChange = n, time.Now()
		}
		time.Sleep(20 * time.Microsecond)
	}
	elapsed := time.Since(start)
	if got.Load() < int64(b.N) {
		elapsed -= time.Since(lastChange)
	}
	b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(int64(b.N)-got.Load()), "lost")
}
