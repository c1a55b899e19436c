package web

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
)

// smpFakeStatus returns one gateway whose messages_in counter goes up by 10 per call.
func smpFakeStatus(calls *atomic.Int64) func() []gateway.GatewayStatus {
	return func() []gateway.GatewayStatus {
		n := calls.Add(1)
		return []gateway.GatewayStatus{{Name: "stomp", Counters: gateway.CounterValues{Connections: n, MessagesIn: 10 * n}}}
	}
}

func TestSamplerRingIsBounded(t *testing.T) {
	var calls atomic.Int64
	s := newSampler(time.Second, 5*time.Second, smpFakeStatus(&calls))
	t0 := time.Unix(1000, 0)
	for i := range 12 {
		s.take(t0.Add(time.Duration(i) * time.Second))
	}
	got := s.samples()
	if len(got) != 5 {
		t.Fatalf("%d samples, want 5", len(got))
	}
	for i, smp := range got { // the newest five, oldest first
		if want := t0.Add(time.Duration(7+i) * time.Second); !smp.at.Equal(want) {
			t.Errorf("sample %d at %v, want %v", i, smp.at, want)
		}
		if c := smp.gateways["stomp"].Connections; c != int64(8+i) {
			t.Errorf("sample %d: connections %d, want %d", i, c, 8+i)
		}
	}
}

func TestSamplerStartStop(t *testing.T) {
	var calls atomic.Int64
	s := newSampler(10*time.Millisecond, time.Second, smpFakeStatus(&calls))
	s.start()
	s.start() // a second start does nothing
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if n := len(s.samples()); n < 3 {
			return fmt.Errorf("%d samples", n)
		}
		return nil
	})
	s.stop()
	n := calls.Load()
	// Nothing starts after stop. A goroutine started now would sample at once, before
	// the second stop's wait returned.
	s.start()
	s.stop()
	if calls.Load() != n {
		t.Errorf("sampling went on after stop: %d calls, then %d", n, calls.Load())
	}
}

func TestUICharts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	smp := func(sec int, gws map[string]gateway.CounterValues) sample {
		return sample{at: t0.Add(time.Duration(sec) * time.Second), gateways: gws}
	}
	samples := []sample{
		smp(0, map[string]gateway.CounterValues{"stomp": {Connections: 1, MessagesIn: 100, MessagesOut: 0}}),
		smp(5, map[string]gateway.CounterValues{"stomp": {Connections: 2, MessagesIn: 150, MessagesOut: 10},
			"coap": {Connections: 4, MessagesIn: 5}}),
		// stomp was reloaded: its counters start again and do not count for this interval.
		smp(10, map[string]gateway.CounterValues{"stomp": {Connections: 0, MessagesIn: 3}, "coap": {Connections: 4, MessagesIn: 25}}),
	}
	charts := uiCharts(samples)
	conns, rates := charts[0], charts[1]
	if got := conns.Series; len(got) != 2 || got[0] != "coap" || got[1] != "stomp" {
		t.Fatalf("series %v", got)
	}
	val := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	for _, tc := range []struct {
		name string
		col  []*float64
		want []any
	}{
		{"times", conns.Data[0], []any{1000.0, 1005.0, 1010.0}},
		{"coap connections", conns.Data[1], []any{nil, 4.0, 4.0}},
		{"stomp connections", conns.Data[2], []any{1.0, 2.0, 0.0}},
		{"rate in", rates.Data[1], []any{nil, 10.0, 4.0}},
		{"rate out", rates.Data[2], []any{nil, 2.0, 0.0}},
	} {
		for i, p := range tc.col {
			if val(p) != tc.want[i] {
				t.Errorf("%s[%d] = %v, want %v", tc.name, i, val(p), tc.want[i])
			}
		}
		if len(tc.col) != len(tc.want) {
			t.Errorf("%s: %d values", tc.name, len(tc.col))
		}
	}
	// No samples yet: still one (empty) column per series, as uPlot wants.
	empty := uiCharts(nil)
	if len(empty[0].Data) != 1 || len(empty[1].Data) != 3 || empty[1].Data[2] == nil {
		t.Errorf("empty charts %+v", empty)
	}
}
