package mqtt

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/xgate/xgate/gateway"
)

func TestPahoPublishReachesInlineSubscriber(t *testing.T) {
	b := startBroker(t)
	pub := mustPaho(t, b)
	tests := []struct {
		name           string
		pubQoS, subQoS byte
		wantQoS        byte
	}{
		{name: "qos0", pubQoS: 0, subQoS: 1, wantQoS: 0},
		{name: "qos1", pubQoS: 1, subQoS: 1, wantQoS: 1},
		{name: "qos1 to qos0 subscription", pubQoS: 1, subQoS: 0, wantQoS: 0},
		{name: "qos2 to qos1 subscription", pubQoS: 2, subQoS: 1, wantQoS: 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("paho/%d/x", i)
			var in inbox
			cancel, err := b.Subscribe(topic, tc.subQoS, in.deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			wait(t, pub.Publish(topic, tc.pubQoS, false, "hello"))
			m := in.waitN(t, 1)[0]
			if m.Topic != topic || string(m.Payload) != "hello" || m.QoS != tc.wantQoS || m.Retain {
				t.Errorf("got %+v, want topic %s payload hello qos %d", m, topic, tc.wantQoS)
			}
		})
	}
}

func TestPublishReachesPaho(t *testing.T) {
	b := startBroker(t)
	for _, qos := range []byte{0, 1} {
		t.Run("qos"+strconv.Itoa(int(qos)), func(t *testing.T) {
			got := make(chan paho.Message, 1)
			sub := mustPaho(t, b)
			topic := fmt.Sprintf("to/paho/%d", qos)
			wait(t, sub.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- m }))
			if err := b.Publish(gateway.Message{Topic: topic, Payload: []byte("hi"), QoS: qos}); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-got:
				if m.Topic() != topic || string(m.Payload()) != "hi" || m.Qos() != qos || m.Retained() {
					t.Errorf("got topic %s payload %q qos %d retained %v", m.Topic(), m.Payload(), m.Qos(), m.Retained())
				}
			case <-time.After(testTimeout):
				t.Fatal("no message")
			}
		})
	}
}

func TestRetained(t *testing.T) {
	b := startBroker(t)
	if err := b.Publish(gateway.Message{Topic: "state/dev1", Payload: []byte("on"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}

	got := make(chan paho.Message, 1)
	sub := mustPaho(t, b)
	wait(t, sub.Subscribe("state/+", 1, func(_ paho.Client, m paho.Message) { got <- m }))
	select {
	case m := <-got:
		if m.Topic() != "state/dev1" || string(m.Payload()) != "on" || !m.Retained() || m.Qos() != 1 {
			t.Errorf("paho got topic %s payload %q retained %v qos %d", m.Topic(), m.Payload(), m.Retained(), m.Qos())
		}
	case <-time.After(testTimeout):
		t.Fatal("paho subscriber got no retained message")
	}

	// Inline subscriptions get retained messages before Subscribe returns.
	var in inbox
	cancel, err := b.Subscribe("state/#", 0, in.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if ms := in.all(); len(ms) != 1 || string(ms[0].Payload) != "on" || !ms[0].Retain || ms[0].QoS != 0 {
		t.Fatalf("inline got %+v, want the retained message at qos 0", ms)
	}

	// An empty retained payload clears it.
	if err := b.Publish(gateway.Message{Topic: "state/dev1", Retain: true}); err != nil {
		t.Fatal(err)
	}
	var later inbox
	cancel2, err := b.Subscribe("state/#", 0, later.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel2()
	if ms := later.all(); len(ms) != 0 {
		t.Errorf("after clearing, a new subscription got %+v", ms)
	}
}

func TestWildcards(t *testing.T) {
	b := startBroker(t)
	tests := []struct {
		name   string
		filter string
		topic  string
		match  bool
	}{
		{name: "exact", filter: "a/b", topic: "a/b", match: true},
		{name: "exact other", filter: "a/b", topic: "a/c", match: false},
		{name: "plus", filter: "a/+/c", topic: "a/b/c", match: true},
		{name: "plus one level only", filter: "a/+", topic: "a/b/c", match: false},
		{name: "plus first", filter: "+/b", topic: "a/b", match: true},
		{name: "hash", filter: "a/#", topic: "a/b/c", match: true},
		{name: "hash matches parent", filter: "a/b/#", topic: "a/b", match: true},
		{name: "plus hash matches parent", filter: "a/+/#", topic: "a/b", match: true},
		{name: "hash not sibling", filter: "a/b/#", topic: "a/bc", match: false},
		{name: "root hash", filter: "#", topic: "x/y", match: true},
		{name: "root hash skips $SYS", filter: "#", topic: "$SYS/x", match: false},
		{name: "root plus skips $ topics", filter: "+/x", topic: "$SYS/x", match: false},
		{name: "$SYS hash", filter: "$SYS/#", topic: "$SYS/x", match: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in inbox
			cancel, err := b.Subscribe(tc.filter, 0, in.deliver)
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			// Inline subscribers are called before Publish returns.
			if err := b.Publish(gateway.Message{Topic: tc.topic, Payload: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			// mochi publishes $SYS itself every few seconds; count only our topic.
			n := 0
			for _, m := range in.all() {
				if m.Topic == tc.topic {
					n++
				}
			}
			want := 0
			if tc.match {
				want = 1
			}
			if n != want {
				t.Errorf("filter %s topic %s: %d deliveries, want %d", tc.filter, tc.topic, n, want)
			}
		})
	}
}

func TestSubscriptionsAreIndependent(t *testing.T) {
	b := startBroker(t)
	var in1, in2 inbox
	cancel1, err := b.Subscribe("dev/#", 1, in1.deliver)
	if err != nil {
		t.Fatal(err)
	}
	cancel2, err := b.Subscribe("dev/#", 1, in2.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel2()
	publish := func(topic string) {
		t.Helper()
		if err := b.Publish(gateway.Message{Topic: topic, Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	publish("dev/1")
	cancel1()
	cancel1() // idempotent
	publish("dev/2")
	publish("dev") // the parent subscription behind "dev/#" is cancelled too
	if got, want := in1.topics(), []string{"dev/1"}; !slices.Equal(got, want) {
		t.Errorf("cancelled subscription got %v, want %v", got, want)
	}
	if got, want := in2.topics(), []string{"dev/1", "dev/2", "dev"}; !slices.Equal(got, want) {
		t.Errorf("remaining subscription got %v, want %v", got, want)
	}
}

func TestSubscribeAndPublishErrors(t *testing.T) {
	b := startBroker(t)
	nop := func(gateway.Message) {}
	for _, tc := range []struct {
		name    string
		filter  string
		qos     byte
		deliver func(gateway.Message)
		want    error
	}{
		{name: "hash not last", filter: "a/#/b", deliver: nop, want: ErrInvalidFilter},
		{name: "empty", filter: "", deliver: nop, want: ErrInvalidFilter},
		{name: "share without filter", filter: "$share/g", deliver: nop, want: ErrInvalidFilter},
		{name: "qos 3", filter: "a", qos: 3, deliver: nop, want: ErrInvalidQoS},
		{name: "nil deliver", filter: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cancel, err := b.Subscribe(tc.filter, tc.qos, tc.deliver)
			if err == nil || cancel != nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Subscribe(%q) = %v, want %v", tc.filter, err, tc.want)
			}
		})
	}
	if err := b.Publish(gateway.Message{Topic: "a/+"}); !errors.Is(err, packets.ErrProtocolViolationSurplusWildcard) {
		t.Errorf("publish to a wildcard: %v", err)
	}
	if err := b.Publish(gateway.Message{Topic: "a", QoS: 3}); !errors.Is(err, ErrInvalidQoS) {
		t.Errorf("publish qos 3: %v", err)
	}
	if err := b.Publish(gateway.Message{Topic: "a", Payload: make([]byte, maxPacketSize)}); !errors.Is(err, ErrPacketTooLarge) {
		t.Errorf("publish 1 MiB: %v", err)
	}
	_ = b.Close()
	if err := b.Publish(gateway.Message{Topic: "a"}); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after Close: %v", err)
	}
	if _, err := b.Subscribe("a", 0, nop); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribe after Close: %v", err)
	}
}

// TestSlowSubscribersDoNotBlockPublish: an inline subscriber that drops when its queue is full
// and an MQTT subscriber that stops reading must not hold up the publisher.
func TestSlowSubscribersDoNotBlockPublish(t *testing.T) {
	b := startBroker(t)
	queue := make(chan gateway.Message, 16) // never drained, like a stuck session
	var queued, dropped atomic.Int64
	cancel, err := b.Subscribe("load/#", 1, func(m gateway.Message) {
		select {
		case queue <- m:
			queued.Add(1)
		default:
			dropped.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	// paho calls handlers in order on its reading goroutine, so a blocked handler stops it
	// reading and the socket fills up. The QoS 1 subscriber hits mochi's inflight limit, the
	// QoS 0 one its write queue.
	stuck := make(chan struct{})
	for _, qos := range []byte{0, 1} {
		sub := mustPaho(t, b)
		wait(t, sub.Subscribe("load/#", qos, func(paho.Client, paho.Message) { <-stuck }))
	}
	t.Cleanup(func() { close(stuck) }) // runs before the clients' Disconnect

	const n = 10_000
	payload := make([]byte, 4096) // 40 MiB in all: more than the socket buffers hold
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := b.Publish(gateway.Message{Topic: "load/x", Payload: payload, QoS: 1}); err != nil {
				done <- fmt.Errorf("publish %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("publishes blocked by slow subscribers")
	}
	if q, d := queued.Load(), dropped.Load(); q != 16 || q+d != n {
		t.Errorf("inline subscriber: queued %d dropped %d, want 16 and %d", q, d, n-16)
	}
	queueDrops, inflightDrops := atomic.LoadInt64(&b.srv.Info.MessagesDropped), atomic.LoadInt64(&b.srv.Info.InflightDropped)
	if queueDrops == 0 || inflightDrops == 0 {
		t.Errorf("stuck MQTT subscribers: %d dropped at the write queue, %d at the inflight limit; want both > 0", queueDrops, inflightDrops)
	}
}

func TestConcurrentPublish(t *testing.T) {
	b := startBroker(t)
	var got atomic.Int64
	cancel, err := b.Subscribe("c/+", 0, func(gateway.Message) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				if err := b.Publish(gateway.Message{Topic: "c/" + strconv.Itoa(w), Payload: []byte("x"), QoS: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got.Load() != workers*each {
		t.Errorf("delivered %d, want %d", got.Load(), workers*each)
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	b := startBroker(t)
	addr := b.Addr(ListenerTCP).String()
	headers := []gateway.Header{{Key: "k1", Value: "v1"}, {Key: "k1", Value: "v2"}, {Key: "trace", Value: "abc"}}
	want := gateway.Message{Topic: "props/x", Payload: []byte("{}"), QoS: 1, ContentType: "application/json", Headers: headers}

	t.Run("inline to inline", func(t *testing.T) {
		var in inbox
		cancel, err := b.Subscribe("props/#", 1, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if err := b.Publish(want); err != nil {
			t.Fatal(err)
		}
		checkMessage(t, in.waitN(t, 1)[0], want)
	})

	t.Run("inline to MQTT 5 client", func(t *testing.T) {
		c := dialV5(t, addr, "v5-sub")
		c.subscribe("props/#", 1)
		if err := b.Publish(want); err != nil {
			t.Fatal(err)
		}
		pk := c.read()
		if pk.FixedHeader.Type != packets.Publish {
			t.Fatalf("got packet type %d, want PUBLISH", pk.FixedHeader.Type)
		}
		checkMessage(t, toMessage(pk, 2), want)
	})

	t.Run("MQTT 5 client to inline", func(t *testing.T) {
		var in inbox
		cancel, err := b.Subscribe("props/#", 1, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		c := dialV5(t, addr, "v5-pub")
		pk := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
			TopicName:   want.Topic,
			Payload:     want.Payload,
			PacketID:    7,
		}
		pk.Properties.ContentType = want.ContentType
		for _, h := range headers {
			pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: h.Key, Val: h.Value})
		}
		c.send(pk)
		if ack := c.read(); ack.FixedHeader.Type != packets.Puback || ack.PacketID != 7 || len(ack.Properties.User) != 0 {
			t.Errorf("PUBACK: %+v", ack)
		}
		checkMessage(t, in.waitN(t, 1)[0], want)
	})

	t.Run("retained to later MQTT 5 client", func(t *testing.T) {
		r := want
		r.Topic, r.Retain = "props/retained", true
		if err := b.Publish(r); err != nil {
			t.Fatal(err)
		}
		c := dialV5(t, addr, "v5-late")
		c.subscribe("props/retained", 1)
		checkMessage(t, toMessage(c.read(), 2), r)
	})
}

func checkMessage(t *testing.T, got, want gateway.Message) {
	t.Helper()
	if got.Topic != want.Topic || string(got.Payload) != string(want.Payload) || got.QoS != want.QoS ||
		got.Retain != want.Retain || got.ContentType != want.ContentType || !slices.Equal(got.Headers, want.Headers) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestSharedSubscription(t *testing.T) {
	b := startBroker(t)
	const n = 200

	var mu sync.Mutex
	seen := map[string]int{} // payload → deliveries within group g
	count := func(who *atomic.Int64) func(gateway.Message) {
		return func(m gateway.Message) {
			who.Add(1)
			mu.Lock()
			seen[string(m.Payload)]++
			mu.Unlock()
		}
	}
	var inline1, inline2, paho1, other atomic.Int64
	c1, err := b.Subscribe("$share/g/jobs/#", 1, count(&inline1))
	if err != nil {
		t.Fatal(err)
	}
	c2, err := b.Subscribe("$share/g/jobs/#", 1, count(&inline2))
	if err != nil {
		t.Fatal(err)
	}
	defer c2()
	c3, err := b.Subscribe("$share/h/jobs/#", 0, func(gateway.Message) { other.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer c3()
	sub := mustPaho(t, b)
	wait(t, sub.Subscribe("$share/g/jobs/#", 1, func(_ paho.Client, m paho.Message) {
		count(&paho1)(gateway.Message{Payload: m.Payload()})
	}))

	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := b.Publish(gateway.Message{Topic: "jobs/x", Payload: []byte(strconv.Itoa(i)), QoS: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, n)
	waitFor(t, testTimeout, func() error {
		if got := inline1.Load() + inline2.Load() + paho1.Load(); got != n {
			return fmt.Errorf("group g got %d of %d", got, n)
		}
		return nil
	})
	if inline1.Load() == 0 || inline2.Load() == 0 || paho1.Load() == 0 {
		t.Errorf("group g members got %d, %d, %d: want every member picked", inline1.Load(), inline2.Load(), paho1.Load())
	}
	if other.Load() != n {
		t.Errorf("group h got %d, want %d", other.Load(), n)
	}

	// Without its inline members, the group is the paho client alone.
	c1()
	c1()
	c2()
	before := paho1.Load()
	publish(n, 2*n)
	waitFor(t, testTimeout, func() error {
		if got := paho1.Load() - before; got != n {
			return fmt.Errorf("paho got %d of %d", got, n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range 2 * n {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("message %d delivered %d times within group g", i, seen[strconv.Itoa(i)])
		}
	}
}

func BenchmarkPublishToInlineSubscriber(b *testing.B) {
	br := startBroker(b)
	var got atomic.Int64
	cancel, err := br.Subscribe("bench/+/data", 1, func(gateway.Message) { got.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	m := gateway.Message{Topic: "bench/dev1/data", Payload: make([]byte, 64), QoS: 1}
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Publish(m); err != nil {
			b.Fatal(err)
		}
	}
	if got.Load() == 0 {
		b.Fatal("nothing delivered")
	}
}
