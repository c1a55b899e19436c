package views

import (
	"net/url"
	"strconv"
	"time"
)

// GatewayList is the gateways page: every gateway xgate can run, stored or not.
type GatewayList struct {
	Gateways []GatewayListItem
}

// GatewayListItem is one row of the gateways page.
type GatewayListItem struct {
	Name string
	// Status is "running", "stopped" or "unloaded" (no configuration stored).
	Status           string
	Listeners        int
	RunningListeners int
	Connections      int64
}

// Gateway is one gateway's page: its state and enable toggle, its listeners and the form
// of its settings.
type Gateway struct {
	Name   string
	Status string // running, stopped, unloaded
	// Loaded: a configuration is stored. An unloaded gateway offers to be loaded instead of
	// the toggle, the listeners and the settings.
	Loaded      bool
	Enabled     bool
	Connections int64
	// StateError is why the last enable, disable or load was refused.
	StateError string
	Listeners  GatewayListeners
	// Settings is the form of the common fields and the protocol's own.
	Settings Form
}

// GatewayURL is the address of gateway name's page.
func GatewayURL(name string) string { return "/gateways/" + url.PathEscape(name) }

// ListenerURL is the address of a listener's actions (id is "<gateway>:<type>:<name>").
func ListenerURL(gateway, id string) string {
	return GatewayURL(gateway) + "/listeners/" + url.PathEscape(id)
}

// GatewayListeners is the listeners part of a gateway's page: the table, which refreshes
// itself, and the add or edit form when one is open.
type GatewayListeners struct {
	Gateway string
	Rows    []GatewayListener
	// Refresh is how often the table fetches itself again.
	Refresh time.Duration
	// Notice is the result of the last change ("Listener stomp:tcp:x added.").
	Notice string
	// Form is the open add or edit form; nil shows the add button.
	Form *ListenerForm
}

// GatewayListener is one row of the listeners table.
type GatewayListener struct {
	ListenerSummary
	MaxConnections int // 0: no limit
}

// MaxConnectionsText is max_connections for display.
func (l GatewayListener) MaxConnectionsText() string {
	if l.MaxConnections == 0 {
		return "no limit"
	}
	return strconv.Itoa(l.MaxConnections)
}

// ListenerForm is the form that adds a listener (ID empty) or edits listener ID.
type ListenerForm struct {
	Gateway string
	ID      string
	Form    Form
}

// Action is where the form posts.
func (f ListenerForm) Action() string {
	if f.ID == "" {
		return GatewayURL(f.Gateway) + "/listeners"
	}
	return ListenerURL(f.Gateway, f.ID)
}

// Title is the form's heading.
func (f ListenerForm) Title() string {
	if f.ID == "" {
		return "Add a listener"
	}
	return "Edit listener " + f.ID
}
