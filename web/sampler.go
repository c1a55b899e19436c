package web

import (
	"context"
	"sync"
	"time"

	"github.com/xgate/xgate/gateway"
)

// Dashboard charts: the sampler reads every gateway's counters each sampleEvery and keeps
// the last chartWindow of them.
const (
	defaultSampleEvery = 5 * time.Second
	chartWindow        = 10 * time.Minute
)

// sample is every loaded gateway's counters at one time.
type sample struct {
	at       time.Time
	gateways map[string]gateway.CounterValues
}

// sampler keeps the recent history of the gateways' counters for the dashboard's charts, in
// a ring of fixed size. Its goroutine is owned by the Server: started by Listen, stopped by
// Shutdown; nothing starts after stop.
type sampler struct {
	every  time.Duration
	status func() []gateway.GatewayStatus

	mu      sync.Mutex
	ring    []sample // oldest at next once the ring is full
	next    int
	full    bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// newSampler keeps window/every samples of status().
func newSampler(every, window time.Duration, status func() []gateway.GatewayStatus) *sampler {
	n := max(2, int(window/every))
	return &sampler{every: every, status: status, ring: make([]sample, 0, n)}
}

// start takes a sample now and then one every s.every until stop. A second start, or a
// start after stop, does nothing.
func (s *sampler) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.run(ctx)
}

func (s *sampler) run(ctx context.Context) {
	defer s.wg.Done()
	s.take(time.Now())
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.take(now)
		}
	}
}

// stop ends the goroutine and waits for it.
func (s *sampler) stop() {
	s.mu.Lock()
	s.stopped = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// take records the gateways' counters at now.
func (s *sampler) take(now time.Time) {
	st := s.status()
	smp := sample{at: now, gateways: make(map[string]gateway.CounterValues, len(st))}
	for _, g := range st {
		smp.gateways[g.Name] = g.Counters
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.full {
		s.ring = append(s.ring, smp)
		s.full = len(s.ring) == cap(s.ring)
		return
	}
	s.ring[s.next] = smp
	s.next = (s.next + 1) % len(s.ring)
}

// samples returns the kept samples, oldest first.
func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sample, 0, len(s.ring))
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}
