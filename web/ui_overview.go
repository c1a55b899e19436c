package web

import (
	"context"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
)

func (s *Server) uiOverviewRoutes(ui uiRouter) {
	ui.Get("/", s.uiOverview)
	ui.Get("/overview/live", s.uiOverviewLive)
}

// uiOverview is GET /: every gateway xgate can run, with its live state, and charts.
func (s *Server) uiOverview(c *fiber.Ctx) error {
	m, err := s.uiOverviewModel(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.OverviewPage(s.uiPage(c, "Overview", views.NavOverview), m))
}

// uiOverviewLive is GET /overview/live, the fragment the overview polls.
func (s *Server) uiOverviewLive(c *fiber.Ctx) error {
	m, err := s.uiOverviewModel(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.OverviewLive(m))
}

// uiOverviewModel reads the stored configuration (which gateways and listeners exist) and
// the runtime's status (what runs, the counters). Every protocol xgate was built with is
// listed, so a new gateway appears without page code.
func (s *Server) uiOverviewModel(ctx context.Context) (views.Overview, error) {
	snap, err := s.deps.Store.Snapshot(ctx)
	if err != nil {
		return views.Overview{}, err
	}
	statuses := s.deps.Manager.Status()
	m := views.Overview{UpdatedAt: time.Now(), Refresh: s.sampler.every}
	for _, name := range s.deps.Manager.Protocols() {
		cfg, loaded := snap.Gateway(name)
		if !loaded {
			m.Gateways = append(m.Gateways, views.GatewaySummary{Name: name, Status: gwUnloaded})
			continue
		}
		i := slices.IndexFunc(statuses, func(st gateway.GatewayStatus) bool { return st.Name == name })
		var st gateway.GatewayStatus
		if i >= 0 {
			st = statuses[i]
		}
		g := views.GatewaySummary{Name: name, Status: gwState(cfg, st, i >= 0), Connections: st.Counters.Connections,
			MessagesIn: st.Counters.MessagesIn, MessagesOut: st.Counters.MessagesOut, Dropped: st.Counters.Dropped}
		for _, l := range cfg.Listeners {
			id := gwListenerID(name, l)
			ls, _ := gwFindListenerStatus(st, id)
			g.Listeners = append(g.Listeners, views.ListenerSummary{ID: id, Type: string(l.Type), Name: l.Name,
				Bind: l.Bind, Enabled: l.Enable && cfg.Enable, Running: ls.Running, Error: ls.Error,
				Connections: ls.CurrentConnections})
		}
		m.Gateways = append(m.Gateways, g)
	}
	m.Charts = uiCharts(s.sampler.samples())
	return m, nil
}

// uiCharts turns the sampler's history into the overview's two charts: connections per
// gateway, and messages per second into and out of all gateways together.
func uiCharts(samples []sample) []views.Chart {
	var names []string
	for _, smp := range samples {
		for name := range smp.gateways {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	conns := views.Chart{ID: "connections", Title: "Connections", Unit: "connections", Series: names,
		Data: make([][]*float64, 1+len(names))}
	rates := views.Chart{ID: "messages", Title: "Messages per second", Unit: "messages/s",
		Series: []string{"in", "out"}, Data: make([][]*float64, 3)}
	for i, smp := range samples {
		t := float64(smp.at.Unix())
		conns.Data[0] = append(conns.Data[0], &t)
		rates.Data[0] = append(rates.Data[0], &t)
		for j, name := range names {
			var v *float64
			if cv, ok := smp.gateways[name]; ok {
				v = new(float64(cv.Connections))
			}
			conns.Data[1+j] = append(conns.Data[1+j], v)
		}
		var in, out *float64
		if i > 0 {
			in, out = uiRates(samples[i-1], smp)
		}
		rates.Data[1] = append(rates.Data[1], in)
		rates.Data[2] = append(rates.Data[2], out)
	}
	for i := range conns.Data { // uPlot wants every column, even when there is no sample yet
		if conns.Data[i] == nil {
			conns.Data[i] = []*float64{}
		}
	}
	for i := range rates.Data {
		if rates.Data[i] == nil {
			rates.Data[i] = []*float64{}
		}
	}
	return []views.Chart{conns, rates}
}

// uiRates is the messages per second in and out of all gateways between two samples. A
// gateway missing from either sample, or whose counters went back (it was reloaded), does
// not count.
func uiRates(prev, cur sample) (in, out *float64) {
	secs := cur.at.Sub(prev.at).Seconds()
	if secs <= 0 {
		return nil, nil
	}
	var sumIn, sumOut int64
	for name, c := range cur.gateways {
		p, ok := prev.gateways[name]
		if !ok || c.MessagesIn < p.MessagesIn || c.MessagesOut < p.MessagesOut {
			continue
		}
		sumIn += c.MessagesIn - p.MessagesIn
		sumOut += c.MessagesOut - p.MessagesOut
	}
	return new(float64(sumIn) / secs), new(float64(sumOut) / secs)
}
