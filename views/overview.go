package views

import "time"

// Overview is the dashboard's home page: every gateway with its live state, and charts of
// the recent past.
type Overview struct {
	Gateways []GatewaySummary
	Charts   []Chart
	// UpdatedAt is when the numbers were read.
	UpdatedAt time.Time
	// Refresh is how often the page fetches OverviewLive.
	Refresh time.Duration
}

// GatewaySummary is one gateway on the overview.
type GatewaySummary struct {
	Name string
	// Status is "running", "stopped" or "unloaded" (no configuration stored).
	Status      string
	Connections int64
	MessagesIn  int64
	MessagesOut int64
	Dropped     int64
	Listeners   []ListenerSummary
}

// ListenerSummary is one listener of a gateway on the overview.
type ListenerSummary struct {
	ID      string // gateway:type:name, as the API names it
	Type    string
	Name    string
	Bind    string
	Enabled bool
	Running bool
	// Error is why an enabled listener is not running (its port is taken, ...).
	Error       string
	Connections int64
}

// State is the listener's state in one word.
func (l ListenerSummary) State() string {
	switch {
	case !l.Enabled:
		return "disabled"
	case l.Running:
		return "running"
	case l.Error != "":
		return "error"
	}
	return "stopped"
}
