package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
)

// clGatewayStats is xgate's GET /gateways/{name}/stats (EMQX has no counterpart): the
// gateway's live counters and each listener's. The counters (current_connections,
// connects, messages_in, messages_out, messages_dropped, packets_malformed) are fields of
// the object itself.
type clGatewayStats struct {
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	StartedAt *time.Time `json:"started_at"`
	gateway.CounterValues
	Listeners []clListenerStats `json:"listeners"`
}

type clListenerStats struct {
	ID             string            `json:"id"`
	Type           gateway.Transport `json:"type"`
	Name           string            `json:"name"`
	Running        bool              `json:"running"`
	MaxConnections int               `json:"max_connections"`
	gateway.CounterValues
}

func (s *Server) clStats(c *fiber.Ctx) error {
	name := c.Params("name")
	for _, st := range s.deps.Manager.Status() {
		if st.Name == name {
			return c.JSON(clStatsOf(st))
		}
	}
	return notFound("Gateway not loaded: " + name)
}

func clStatsOf(st gateway.GatewayStatus) clGatewayStats {
	out := clGatewayStats{Name: st.Name, Status: st.Status, StartedAt: st.StartedAt, CounterValues: st.Counters,
		Listeners: []clListenerStats{}}
	for _, l := range st.Listeners {
		out.Listeners = append(out.Listeners, clListenerStats{ID: l.ID, Type: l.Type, Name: l.Name, Running: l.Running,
			MaxConnections: l.MaxConnections, CounterValues: l.Counters})
	}
	return out
}
