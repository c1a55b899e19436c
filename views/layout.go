package views

import (
	"context"
	"encoding/json"
)

// Page is what Layout shows around every page's content.
type Page struct {
	Title string
	// Active is the navigation entry of this page (NavOverview, ...); empty for none.
	Active string
	// User is the logged-in admin; empty on pages shown without a session (login, errors),
	// which then have no navigation.
	User string
	// DefaultPassword shows the warning banner: the admin still has the default password.
	DefaultPassword bool
	// Flash are messages shown above the content (the result of the last action).
	Flash []Flash
}

// FlashKind is how a flash message is shown.
type FlashKind string

// Flash kinds.
const (
	FlashInfo    FlashKind = "info"
	FlashSuccess FlashKind = "success"
	FlashError   FlashKind = "error"
)

// Flash is one message in the flash area.
type Flash struct {
	Kind FlashKind
	Text string
}

// Navigation entries, the values of Page.Active.
const (
	NavOverview      = "overview"
	NavGateways      = "gateways"
	NavClients       = "clients"
	NavAuthorization = "authorization"
	NavEvents        = "events"
)

// NavItem is one entry of the header navigation.
type NavItem struct {
	ID    string // a Nav* constant; the link's data-testid is "nav-" + ID
	Label string
	Href  string
}

// NavItems are the header's entries, in order.
func NavItems() []NavItem {
	return []NavItem{
		{ID: NavOverview, Label: "Overview", Href: "/"},
		{ID: NavGateways, Label: "Gateways", Href: "/gateways"},
		{ID: NavClients, Label: "Clients", Href: "/clients"},
		{ID: NavAuthorization, Label: "Authorization", Href: "/authorization"},
		{ID: NavEvents, Label: "Events", Href: "/events"},
	}
}

// CSRF: every unsafe request must carry the session's token, as the form field CSRFFieldName
// (CSRFField renders it) or, from htmx, as the header CSRFHeader (Layout sets it for every
// htmx request with hx-headers on the body).
const (
	CSRFFieldName = "_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

type csrfKey struct{}

// WithCSRF returns ctx carrying the CSRF token that the components render.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey{}, token)
}

// CSRF is the token WithCSRF stored, or "".
func CSRF(ctx context.Context) string {
	token, _ := ctx.Value(csrfKey{}).(string)
	return token
}

// htmxHeaders is the hx-headers value that makes htmx send the CSRF token.
func htmxHeaders(ctx context.Context) string {
	b, _ := json.Marshal(map[string]string{CSRFHeader: CSRF(ctx)})
	return string(b)
}

// htmxConfig is the page's htmx configuration. Error answers (4xx, 5xx) are swapped like
// others, so that a handler can answer a refused form with the form and its errors (422) or
// a message retargeted to the flash area; 204 swaps nothing.
const htmxConfig = `{"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"[45]..","swap":true,"error":true}],"includeIndicatorStyles":false,"allowScriptTags":false}`
