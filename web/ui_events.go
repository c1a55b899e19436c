package web

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/views"
)

// The events page: the live hook stream and the webhooks. The stream is the API's
// (evStream, with its filters applied on the server) at a dashboard address, so that the
// browser's EventSource, which cannot send an Authorization header, is let in by the session
// cookie. Webhook changes go through the API's code (evCreate, evUpdate, evDelete).

func (s *Server) uiEventsRoutes(ui uiRouter) {
	ui.Get("/events", s.uievPage)
	ui.Get("/events/stream", s.evStream)
	ui.Get("/events/webhooks", s.uievWebhooks)
	ui.Get("/events/webhooks/editor", s.uievCloseEditor)
	ui.Get("/events/webhooks/new", s.uievNewWebhook)
	ui.Get("/events/webhooks/:name/edit", s.uievEditWebhook)
	ui.Post("/events/webhooks", s.uievCreateWebhook)
	ui.Post("/events/webhooks/:name", s.uievSaveWebhook)
	ui.Post("/events/webhooks/:name/delete", s.uievDeleteWebhook)
}

const (
	// uievMaxShown is how many events the page keeps.
	uievMaxShown = 200
	// uievRefresh is how often the webhook list fetches its counters again.
	uievRefresh = 5 * time.Second
)

// uievTypes are the names of every event type.
func uievTypes() []string {
	out := make([]string, len(evEventTypes))
	for i, t := range evEventTypes {
		out[i] = string(t)
	}
	return out
}

// uievModel reads the page's state; the filter comes from the query, as the stream's.
func (s *Server) uievModel(c *fiber.Ctx) (views.Events, error) {
	m := views.Events{Enabled: s.deps.Events != nil, Gateways: s.deps.Manager.Protocols(), Types: uievTypes(),
		Max: uievMaxShown}
	if !m.Enabled {
		return m, nil
	}
	f := views.EventsFilter{Gateway: c.Query("gateway"), ClientID: c.Query("clientid")}
	for _, v := range c.Context().QueryArgs().PeekMulti("type") {
		for name := range strings.SplitSeq(string(v), ",") {
			if name = strings.TrimSpace(name); name != "" && !slices.Contains(f.Types, name) {
				f.Types = append(f.Types, name)
			}
		}
	}
	if _, _, err := s.evParseFilter(f.Types, f.Gateway); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			return m, err
		}
		root, _, reason := uiazSplitField(ae.Message)
		if root != "gateway" && root != "type" {
			root = "type"
		}
		f.Errors = map[string]string{root: reason}
	}
	m.Filter = f
	list, err := s.uievWebhookList(c.UserContext())
	if err != nil {
		return m, err
	}
	m.Webhooks = list
	return m, nil
}

func (s *Server) uievPageOf(c *fiber.Ctx, status int, m views.Events) error {
	return s.uiRender(c, status, views.EventsPage(s.uiPage(c, "Events", views.NavEvents), m))
}

// uievPage is GET /events.
func (s *Server) uievPage(c *fiber.Ctx) error {
	m, err := s.uievModel(c)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if len(m.Filter.Errors) > 0 {
		status = fiber.StatusUnprocessableEntity
	}
	return s.uievPageOf(c, status, m)
}

// uievWebhookList is every webhook with its counters, as GET /api/v5/webhooks shows them.
func (s *Server) uievWebhookList(ctx context.Context) (views.EventsWebhooks, error) {
	bus, err := s.evBus()
	if err != nil {
		return views.EventsWebhooks{}, err
	}
	stored, err := s.deps.Store.Webhooks(ctx)
	if err != nil {
		return views.EventsWebhooks{}, err
	}
	out := views.EventsWebhooks{Refresh: uievRefresh}
	for _, w := range stored {
		v := s.evView(bus, w)
		row := views.EventsWebhook{Name: v.Name, URL: v.URL, Events: v.Events, Enabled: v.Enable,
			Running: v.Status == "running", Delivered: v.Metrics.Delivered, Failed: v.Metrics.Failed,
			Dropped: v.Metrics.Dropped, Queued: v.Metrics.Queued, LastError: v.Metrics.LastError}
		if v.Metrics.LastErrorAt != nil {
			row.LastErrorAt = *v.Metrics.LastErrorAt
		}
		row.Headers = slices.Sorted(maps.Keys(v.Headers))
		out.List = append(out.List, row)
	}
	return out, nil
}

// uievWebhooks is GET /events/webhooks: the list, which the page polls for its counters.
func (s *Server) uievWebhooks(c *fiber.Ctx) error {
	if !uiIsHTMX(c) {
		return c.Redirect("/events", fiber.StatusSeeOther)
	}
	list, err := s.uievWebhookList(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.EventsWebhookList(list, false))
}

// uievDone answers a change: htmx gets parts and the message in the flash area, a plain
// form is sent back to the page with the message.
func (s *Server) uievDone(c *fiber.Ctx, msg string, parts ...templ.Component) error {
	if !uiIsHTMX(c) {
		uiFlash(c, views.FlashSuccess, msg)
		return c.Redirect("/events", fiber.StatusSeeOther)
	}
	parts = append(parts, views.EventsFlash([]views.Flash{{Kind: views.FlashSuccess, Text: msg}}))
	return s.uiRender(c, fiber.StatusOK, templ.Join(parts...))
}

// uievEditor answers a request that opens (f) or closes (nil) the editor: htmx gets the
// editor, a plain request the page with it.
func (s *Server) uievEditor(c *fiber.Ctx, status int, f *views.EventsWebhookForm) error {
	if uiIsHTMX(c) {
		return s.uiRender(c, status, views.EventsWebhookEditor(f))
	}
	m, err := s.uievModel(c)
	if err != nil {
		return err
	}
	m.Editor = f
	return s.uievPageOf(c, status, m)
}

// uievCloseEditor is GET /events/webhooks/editor: the closed editor (the form's Cancel).
func (s *Server) uievCloseEditor(c *fiber.Ctx) error {
	if !uiIsHTMX(c) {
		return c.Redirect("/events", fiber.StatusSeeOther)
	}
	return s.uiRender(c, fiber.StatusOK, views.EventsWebhookEditor(nil))
}

// uievNewWebhook is GET /events/webhooks/new.
func (s *Server) uievNewWebhook(c *fiber.Ctx) error {
	if _, err := s.evBus(); err != nil {
		return err
	}
	return s.uievEditor(c, fiber.StatusOK, &views.EventsWebhookForm{Enable: true, Types: uievTypes(),
		Events: []string{string(evEventTypes[3])}}) // client.connected
}

// uievEditWebhook is GET /events/webhooks/{name}/edit: the form with the stored webhook,
// its secrets masked as the API shows them.
func (s *Server) uievEditWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	w, err := s.evStored(c)
	if err != nil {
		return err
	}
	v := s.evView(bus, w)
	f := &views.EventsWebhookForm{Original: w.Name, Name: w.Name, URL: v.URL, Events: v.Events, Enable: w.Enable,
		Types: uievTypes(), Headers: uievHeaderText(v.Headers)}
	return s.uievEditor(c, fiber.StatusOK, f)
}

// uievHeaderText writes headers as "Name: value" lines, sorted by name.
func uievHeaderText(h map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		fmt.Fprintf(&b, "%s: %s\n", k, h[k])
	}
	return b.String()
}

// uievReadForm reads the posted webhook form and the webhook it describes; a header line
// that is not "Name: value" is refused here.
func uievReadForm(c *fiber.Ctx, original string) (*views.EventsWebhookForm, db.Webhook, map[string]string) {
	f := &views.EventsWebhookForm{Original: original, Name: strings.TrimSpace(c.FormValue("name")),
		URL: strings.TrimSpace(c.FormValue("url")), Events: uiazFormValues(c, "events"),
		Headers: c.FormValue("headers"), Enable: c.FormValue("enable") == "true", Types: uievTypes()}
	if original != "" {
		f.Name = original
	}
	w := db.Webhook{Name: f.Name, URL: f.URL, Events: f.Events, Enable: f.Enable}
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return f, w, map[string]string{"headers": fmt.Sprintf("line %d: write Name: value", i+1)}
		}
		if w.Headers == nil {
			w.Headers = map[string]string{}
		}
		for have := range w.Headers {
			if strings.EqualFold(have, k) {
				return f, w, map[string]string{"headers": fmt.Sprintf("line %d: %s is given twice", i+1, k)}
			}
		}
		w.Headers[k] = strings.TrimSpace(v)
	}
	return f, w, nil
}

// uievFieldErrors maps a refused webhook to the form's fields.
func uievFieldErrors(err error) (map[string]string, error) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "ALREADY_EXISTS" {
		return map[string]string{"name": "A webhook of this name exists already."}, nil
	}
	return uiazFieldErrors(err, map[string]string{"name": "name", "url": "url", "events": "events", "headers": "headers"})
}

// uievEditorDone answers a saved webhook: the editor closes and the list shows it.
func (s *Server) uievEditorDone(c *fiber.Ctx, msg string) error {
	list, err := s.uievWebhookList(c.UserContext())
	if err != nil {
		return err
	}
	return s.uievDone(c, msg, views.EventsWebhookEditor(nil), views.EventsWebhookList(list, true))
}

// uievCreateWebhook is POST /events/webhooks.
func (s *Server) uievCreateWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	f, w, errs := uievReadForm(c, "")
	if errs == nil {
		if err := s.evCreate(c.UserContext(), bus, w); err != nil {
			if errs, err = uievFieldErrors(err); err != nil {
				return err
			}
		}
	}
	if errs != nil {
		f.Errors = errs
		return s.uievEditor(c, fiber.StatusUnprocessableEntity, f)
	}
	return s.uievEditorDone(c, "Webhook "+w.Name+" added.")
}

// uievSaveWebhook is POST /events/webhooks/{name}: replaces the webhook.
func (s *Server) uievSaveWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	stored, err := s.evStored(c)
	if err != nil {
		return err
	}
	f, w, errs := uievReadForm(c, stored.Name)
	if errs == nil {
		if _, err := s.evUpdate(c.UserContext(), bus, stored, w); err != nil {
			if errs, err = uievFieldErrors(err); err != nil {
				return err
			}
		}
	}
	if errs != nil {
		f.Errors = errs
		return s.uievEditor(c, fiber.StatusUnprocessableEntity, f)
	}
	return s.uievEditorDone(c, "Webhook "+w.Name+" saved.")
}

// uievDeleteWebhook is POST /events/webhooks/{name}/delete.
func (s *Server) uievDeleteWebhook(c *fiber.Ctx) error {
	bus, err := s.evBus()
	if err != nil {
		return err
	}
	name := c.Params("name")
	if err := s.evDelete(c.UserContext(), bus, name); err != nil {
		return err
	}
	list, err := s.uievWebhookList(c.UserContext())
	if err != nil {
		return err
	}
	return s.uievDone(c, "Webhook "+name+" deleted.", views.EventsWebhookList(list, false))
}
