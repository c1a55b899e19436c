package views

import (
	"net/url"
	"strconv"
	"time"
)

// ClientsList is the clients page of one gateway: its connected clients, searched by
// clientid or username and paged. The gateway select lists every gateway xgate can run.
type ClientsList struct {
	// Gateway is the gateway shown; Loaded is false when it has no configuration (nothing
	// runs, so it has no clients).
	Gateway  string
	Loaded   bool
	Gateways []ClientsGateway
	// Query is the search: a part of the clientid or of the username.
	Query string
	// Page (from 1) of PageSize rows; Count is how many clients match Query.
	Page, PageSize, Count int
	Rows                  []ClientRow
	// UpdatedAt is when the clients were read; the table is fetched again every Refresh.
	UpdatedAt time.Time
	Refresh   time.Duration
}

// ClientsGateway is one entry of the gateway select.
type ClientsGateway struct {
	Name    string
	Loaded  bool
	Clients int
}

// Label is the select option's text: the name and how many clients are connected.
func (g ClientsGateway) Label() string {
	switch {
	case !g.Loaded:
		return g.Name + " (not loaded)"
	case g.Clients == 1:
		return g.Name + " (1 client)"
	}
	return g.Name + " (" + strconv.Itoa(g.Clients) + " clients)"
}

// Pages is the number of pages (at least 1).
func (m ClientsList) Pages() int {
	if m.PageSize <= 0 || m.Count <= m.PageSize {
		return 1
	}
	return (m.Count + m.PageSize - 1) / m.PageSize
}

// ListURL is the list's address for the gateway.
func (m ClientsList) ListURL() string { return ClientsURL(m.Gateway) }

// PageURL is the address of page n of the current search.
func (m ClientsList) PageURL(n int) string {
	q := url.Values{}
	if m.Query != "" {
		q.Set("q", m.Query)
	}
	if n > 1 {
		q.Set("page", strconv.Itoa(n))
	}
	if m.PageSize > 0 && m.PageSize != ClientsPageSize {
		q.Set("limit", strconv.Itoa(m.PageSize))
	}
	if len(q) == 0 {
		return m.ListURL()
	}
	return m.ListURL() + "?" + q.Encode()
}

// ClientsPageSize is the table's default number of rows per page.
const ClientsPageSize = 20

// ClientsURL is the address of a gateway's clients list.
func ClientsURL(gateway string) string {
	return "/gateways/" + url.PathEscape(gateway) + "/clients"
}

// ClientURL is the address of one client's page; the clientid is one escaped path segment
// (clientids may hold "/", spaces, ...).
func ClientURL(gateway, clientID string) string {
	return ClientsURL(gateway) + "/" + url.PathEscape(clientID)
}

// ClientRow is one connected client as the list shows it.
type ClientRow struct {
	ClientID string
	Username string
	// Peer is the client's address (ip:port), "" when unknown.
	Peer        string
	ProtoName   string
	ProtoVer    string
	ConnectedAt time.Time
	// Subscriptions, MessagesIn (published by the client) and MessagesOut (delivered to it).
	Subscriptions int
	MessagesIn    int64
	MessagesOut   int64
}

// Protocol is the protocol and its version, "STOMP 1.2".
func (r ClientRow) Protocol() string {
	if r.ProtoVer == "" {
		return r.ProtoName
	}
	return r.ProtoName + " " + r.ProtoVer
}

// ClientDetail is one client's page: what the gateway knows of it, its subscriptions and
// the kick button.
type ClientDetail struct {
	Gateway string
	Client  ClientRow
	// Mountpoint is the prefix of the client's topics on the broker ("" for none).
	Mountpoint string
	Keepalive  int // seconds
	CleanStart bool
	Dropped    int64
	// Attrs are the client attributes (set by an authenticator, or the protocol's own).
	Attrs []ClientAttr
	Subs  ClientSubs
}

// ClientAttr is one client attribute.
type ClientAttr struct{ Key, Value string }

// ClientSubs is the subscriptions part of a client's page: the list with remove buttons
// and the add form, swapped as a whole after each change.
type ClientSubs struct {
	Gateway  string
	ClientID string
	// Supported is false for protocols whose clients the operator cannot subscribe (CoAP).
	Supported bool
	// NeedsSubID: the protocol names each subscription (STOMP's subscription id).
	NeedsSubID    bool
	Subscriptions []ClientSub
	Form          SubscribeForm
	// Notice reports the last change ("Subscribed ... to t/1."); Error a refused removal.
	Notice string
	Error  string
}

// ClientSub is one subscription.
type ClientSub struct {
	// Topic is the filter on the broker (with the mountpoint); Filter is the client's own,
	// which removing it names.
	Topic  string
	Filter string
	QoS    byte
}

// SubscribeForm is the add-subscription form with what was typed and why it was refused.
type SubscribeForm struct {
	Topic, QoS, SubID string
	// Errors by field (SubscribeFieldTopic, ...); Error is a refusal that is no field's.
	Errors map[string]string
	Error  string
}

// The add-subscription form's fields.
const (
	SubscribeFieldTopic = "topic"
	SubscribeFieldQoS   = "qos"
	SubscribeFieldSubID = "subid"
)

// Invalid reports whether field was refused.
func (f SubscribeForm) Invalid(field string) bool { return f.Errors[field] != "" }

// SubscriptionsURL is where the form posts.
func (s ClientSubs) SubscriptionsURL() string {
	return ClientURL(s.Gateway, s.ClientID) + "/subscriptions"
}

// UnsubscribeURL is where a remove button posts (the topic is a form field).
func (s ClientSubs) UnsubscribeURL() string {
	return ClientURL(s.Gateway, s.ClientID) + "/unsubscribe"
}

// KickURL is where the kick button posts.
func (d ClientDetail) KickURL() string {
	return ClientURL(d.Gateway, d.Client.ClientID) + "/kick"
}
