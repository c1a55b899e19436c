package coap_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/xgate/xgate/protocols/coap"
)

// rawDial opens a plain UDP socket to the listener, for datagrams written by hand.
func (f *fixture) rawDial() net.Conn {
	f.t.Helper()
	c, err := net.Dial("udp", f.addr("udp:default"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// conPost encodes a CON POST /ps/{topic} with message ID and token mid.
func conPost(t testing.TB, mid uint16, topic, payload string) []byte {
	t.Helper()
	m := pool.NewMessage(context.Background())
	m.SetType(message.Confirmable)
	m.SetMessageID(int32(mid))
	m.SetToken([]byte{byte(mid >> 8), byte(mid)})
	m.SetCode(codes.POST)
	if err := m.SetPath("/ps/" + topic); err != nil {
		t.Fatal(err)
	}
	m.SetBody(bytes.NewReader([]byte(payload)))
	b, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(b)
}

// exchange sends a CON datagram and returns the answer with its message ID, retransmitting it as a CoAP client
// does (RFC 7252 §4.2; faster here). A request that arrives again while the first copy is
// still being handled gets no answer of its own, so an immediate retransmission needs this.
func exchange(t testing.TB, c net.Conn, datagram []byte) []byte {
	t.Helper()
	buf := make([]byte, 1500)
	for range 25 {
		if _, err := c.Write(datagram); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			if n >= 4 && bytes.Equal(buf[2:4], datagram[2:4]) { // not a late answer to an earlier request
				return buf[:n]
			}
		}
	}
	t.Fatal("no answer to 25 transmissions")
	return nil
}

// isAck checks that answer is the piggybacked ACK 2.04 of the request with mid.
func isAck(t testing.TB, answer []byte, mid uint16) {
	t.Helper()
	if len(answer) < 4 || answer[0]>>4&3 != 2 || answer[1] != 0x44 || answer[2] != byte(mid>>8) || answer[3] != byte(mid) {
		t.Fatalf("want ACK 2.04 for mid %d, got % x", mid, answer)
	}
}

// TestRetransmissionAnsweredFromCache: a CON retransmitted after it was answered (its ACK
// was lost) gets the same answer again and is not published a second time (RFC 7252 §4.5).
func TestRetransmissionAnsweredFromCache(t *testing.T) {
	f := setup(t, "", nil)
	msgs := f.mqttSub("dup/#")
	raw := f.rawDial()
	req := conPost(t, 0x1234, "dup/1", "once")
	first := exchange(t, raw, req)
	isAck(t, first, 0x1234)
	if again := exchange(t, raw, req); !bytes.Equal(again, first) {
		t.Fatalf("retransmission answered % x, first answer % x", again, first)
	}
	isAck(t, exchange(t, raw, conPost(t, 0x1235, "dup/1", "next")), 0x1235)
	for _, want := range []string{"once", "next"} {
		if m := recvMQTT(t, msgs); string(m.Payload()) != want {
			t.Fatalf("MQTT got %q, want %q (a retransmission was published again?)", m.Payload(), want)
		}
	}
}

// TestResponseCacheBounded: of the many requests a peer sent, only the latest
// ResponseCacheSize answers are kept: a retransmission of the oldest of them is answered
// from the cache, one of the request before it is handled (and published) again.
func TestResponseCacheBounded(t *testing.T) {
	f := setup(t, "", nil)
	msgs := f.mqttSub("many")
	raw := f.rawDial()
	const n = 4 * coap.ResponseCacheSize
	for mid := range uint16(n) {
		isAck(t, exchange(t, raw, conPost(t, mid, "many", strconv.Itoa(int(mid)))), mid)
		recvMQTT(t, msgs)
	}
	kept, evicted := uint16(n-coap.ResponseCacheSize), uint16(n-coap.ResponseCacheSize-1)
	isAck(t, exchange(t, raw, conPost(t, kept, "many", "kept")), kept)
	isAck(t, exchange(t, raw, conPost(t, evicted, "many", "evicted")), evicted)
	if m := recvMQTT(t, msgs); string(m.Payload()) != "evicted" {
		t.Fatalf("MQTT got %q, want only the evicted request's publish", m.Payload())
	}
}

// TestMalformedConfirmableIsReset: a CON whose header parses but whose body does not is
// rejected with RST (RFC 7252 §4.2) and counted; the peer can go on.
func TestMalformedConfirmableIsReset(t *testing.T) {
	f := setup(t, "", nil)
	raw := f.rawDial()
	// CON POST, mid 0x4321, a payload marker with no payload: a format error (RFC 7252 §3).
	if got := exchange(t, raw, []byte{0x40, 0x02, 0x43, 0x21, 0xff}); !bytes.Equal(got, []byte{0x70, 0, 0x43, 0x21}) {
		t.Fatalf("want RST for mid 0x4321, got % x", got)
	}
	if st := f.m.Status()[0]; st.Counters.Malformed < 1 {
		t.Fatalf("malformed datagram not counted: %d", st.Counters.Malformed)
	}
	isAck(t, exchange(t, raw, conPost(t, 1, "after", "x")), 1)
}
