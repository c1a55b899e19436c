package views

import (
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Events is the events page: the live stream of gateway events with its filter, and the
// webhooks with their delivery counters.
type Events struct {
	// Enabled is false when xgate runs without its event bus: nothing to show.
	Enabled bool
	Filter  EventsFilter
	// Gateways and Types are the filter's choices: every gateway, every event type.
	Gateways []string
	Types    []string
	// Max is how many events the page keeps; older ones are dropped from the list.
	Max      int
	Webhooks EventsWebhooks
	// Editor is the webhook form when it is open, else nil.
	Editor *EventsWebhookForm
}

// EventsFilter is what the live stream shows: events of one gateway, one client ID, some
// types; empty fields mean any.
type EventsFilter struct {
	Gateway  string
	ClientID string
	Types    []string
	// Errors are messages by field ("gateway", "type"); a refused filter opens no stream.
	Errors map[string]string
}

// Query is the filter as the query of /events and /events/stream.
func (f EventsFilter) Query() string {
	q := url.Values{}
	if f.Gateway != "" {
		q.Set("gateway", f.Gateway)
	}
	if f.ClientID != "" {
		q.Set("clientid", f.ClientID)
	}
	for _, t := range f.Types {
		q.Add("type", t)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// StreamURL is the address of the stream the page reads, "" when the filter was refused.
func (f EventsFilter) StreamURL() string {
	if len(f.Errors) > 0 {
		return ""
	}
	return "/events/stream" + f.Query()
}

// Selected reports whether the filter names event type t.
func (f EventsFilter) Selected(t string) bool { return slices.Contains(f.Types, t) }

// EventsWebhooks is the webhook list, fetched again every Refresh for its counters.
type EventsWebhooks struct {
	List    []EventsWebhook
	Refresh time.Duration
}

// EventsWebhook is one webhook with its delivery state. URL and header values that hold
// credentials are masked.
type EventsWebhook struct {
	Name    string
	URL     string
	Events  []string
	Headers []string // names
	Enabled bool
	// Running reports whether its worker runs (it is enabled and xgate runs).
	Running bool
	// Delivered, Failed and Dropped count events: POSTed with a 2xx answer, given up after
	// the retries, and left out because the queue was full.
	Delivered, Failed, Dropped int64
	Queued                     int
	LastError                  string
	LastErrorAt                time.Time // zero: never failed
}

// State is the webhook's state in one word: running, stopped or disabled.
func (w EventsWebhook) State() string {
	switch {
	case !w.Enabled:
		return "disabled"
	case w.Running:
		return "running"
	}
	return "stopped"
}

// EventsWebhookForm adds (Original "") or edits a webhook, with what was entered.
type EventsWebhookForm struct {
	// Original is the edited webhook's name; a webhook cannot be renamed.
	Original string
	Name     string
	URL      string
	Events   []string
	// Headers are "Name: value" lines.
	Headers string
	Enable  bool
	// Types are every event type, the choices of Events.
	Types []string
	// Errors are messages by field ("name", "url", "events", "headers"); "" is the form's.
	Errors map[string]string
}

// Editing reports whether the form edits a stored webhook.
func (f EventsWebhookForm) Editing() bool { return f.Original != "" }

// ActionURL is the URL the form posts to.
func (f EventsWebhookForm) ActionURL() string {
	if f.Original != "" {
		return "/events/webhooks/" + url.PathEscape(f.Original)
	}
	return "/events/webhooks"
}

func uievCount(n int64) string { return strconv.FormatInt(n, 10) }

func uievPath(name string) string { return url.PathEscape(name) }

// uievDescribedBy is the aria-describedby of a field: its help and, when refused, its error.
func uievDescribedBy(help, errID, errMsg string) string {
	switch {
	case errMsg == "":
		return help
	case help == "":
		return errID
	}
	return help + " " + errID
}

func uievRefresh(d time.Duration) string {
	if d <= 0 {
		d = 5 * time.Second
	}
	return "every " + strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func uievHas(list []string, s string) bool { return slices.Contains(list, s) }
