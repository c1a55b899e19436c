package web

import (
	"context"
	"testing"

	"github.com/xgate/xgate/gateway"
)

func TestGatewayStats(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	alice := clDialStomp(t, a, "alice")
	alice.send("SEND\ndestination:s/1\nreceipt:r\n\nhello\x00")
	alice.expect("RECEIPT")

	var got clGatewayStats
	a.clGetJSON("/api/v5/gateways/stomp/stats", 200, &got)
	wantCounters := gateway.CounterValues{Connections: 1, Connects: 1, MessagesIn: 1}
	if got.Name != "stomp" || got.Status != "running" || got.StartedAt == nil || got.CounterValues != wantCounters {
		t.Fatalf("gateway %+v", got)
	}
	if len(got.Listeners) != 1 {
		t.Fatalf("listeners %+v", got.Listeners)
	}
	l := got.Listeners[0]
	if l.ID != "stomp:tcp:default" || l.Type != gateway.TCP || l.Name != "default" || !l.Running || l.CounterValues != wantCounters {
		t.Fatalf("listener %+v", l)
	}
	// The counters are fields of the objects themselves.
	var raw struct {
		CurrentConnections *int64           `json:"current_connections"`
		Listeners          []map[string]any `json:"listeners"`
	}
	a.clGetJSON("/api/v5/gateways/stomp/stats", 200, &raw)
	if raw.CurrentConnections == nil || *raw.CurrentConnections != 1 || raw.Listeners[0]["messages_in"] != float64(1) {
		t.Fatalf("shape: %+v", raw)
	}

	// A gateway that is not loaded (no longer configured) has no stats.
	ctx := context.Background()
	snap, err := a.store.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var without gateway.Snapshot
	for _, g := range snap.Gateways {
		if g.Name != "coap" {
			without = without.WithGateway(g)
		}
	}
	if err := a.store.Commit(ctx, without, a.mgr.Apply); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"coap", "nope"} {
		status, body := a.do("GET", "/api/v5/gateways/"+name+"/stats", "")
		a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
	}
}
