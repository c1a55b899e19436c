package web

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
)

// The clients pages: each gateway's connected clients (searched, paged, refreshed live),
// one client's page with its subscriptions, and kick. They use the API's client code
// (api_clients.go): clSelect and clQuery.match for the list, clRowOf for what is shown,
// clAddSubscription and clRemoveSubscription for subscriptions, Runtime.Kick.

func (s *Server) uiClientsRoutes(ui uiRouter) {
	ui.Get("/clients", s.uiClients)
	ui.Get("/gateways/:name/clients", s.uiClientsOf)
	ui.Get("/gateways/:name/clients/:clientid", s.uiClient)
	ui.Post("/gateways/:name/clients/:clientid/subscriptions", s.uiClientSubscribe)
	ui.Post("/gateways/:name/clients/:clientid/unsubscribe", s.uiClientUnsubscribe)
	ui.Post("/gateways/:name/clients/:clientid/kick", s.uiClientKick)
}

// uiclRefresh is how often the clients table is fetched again.
const uiclRefresh = 3 * time.Second

// uiclMaxPageSize bounds the rows per page a ?limit= may ask for.
const uiclMaxPageSize = 500

// uiClients is GET /clients, the navigation's entry: the clients of ?gateway=, by default of
// the first gateway that has clients.
func (s *Server) uiClients(c *fiber.Ctx) error {
	name := c.Query("gateway")
	if name == "" {
		name = uiclDefaultGateway(s.uiclGateways())
	}
	return s.uiclList(c, name)
}

// uiClientsOf is GET /gateways/{name}/clients: the page, or for htmx (search, paging, the
// refresh) the table alone.
func (s *Server) uiClientsOf(c *fiber.Ctx) error {
	return s.uiclList(c, c.Params("name"))
}

func (s *Server) uiclList(c *fiber.Ctx, name string) error {
	m, err := s.uiclListModel(c, name)
	if err != nil {
		return err
	}
	c.Vary("HX-Request")
	// htmx asks for the page itself when it restores a history entry it no longer has.
	if uiIsHTMX(c) && c.Get("HX-History-Restore-Request") != "true" {
		return s.uiRender(c, fiber.StatusOK, views.ClientsTable(m))
	}
	return s.uiRender(c, fiber.StatusOK, views.ClientsPage(s.uiPage(c, "Clients of "+name, views.NavClients), m))
}

// uiclListModel reads gateway name's clients that match the search ?q= (a part of the
// clientid or of the username, as the API's like_clientid and like_username), page ?page=
// of ?limit= rows. A page past the end shows the last one.
func (s *Server) uiclListModel(c *fiber.Ctx, name string) (views.ClientsList, error) {
	gws := s.uiclGateways()
	if !slices.ContainsFunc(gws, func(g views.ClientsGateway) bool { return g.Name == name }) {
		return views.ClientsList{}, notFound("There is no gateway " + name + ".")
	}
	m := views.ClientsList{Gateway: name, Gateways: gws, Query: c.Query("q"), Page: 1,
		PageSize: views.ClientsPageSize, UpdatedAt: time.Now(), Refresh: uiclRefresh}
	if n, err := strconv.Atoi(c.Query("limit")); err == nil && n >= 1 {
		m.PageSize = min(n, uiclMaxPageSize)
	}
	if n, err := strconv.Atoi(c.Query("page")); err == nil && n >= 1 {
		m.Page = n
	}
	rt := s.deps.Manager.Gateway(name)
	if rt == nil {
		return m, nil
	}
	m.Loaded = true
	rows := clSelect(rt, uiclMatch(m.Query, s.deps.Node))
	m.Count = len(rows)
	m.Page = min(m.Page, m.Pages())
	for _, r := range rows[min((m.Page-1)*m.PageSize, len(rows)):min(m.Page*m.PageSize, len(rows))] {
		m.Rows = append(m.Rows, uiclRow(r))
	}
	return m, nil
}

// uiclMatch is the search: the API's like_clientid or its like_username.
func uiclMatch(q, node string) func(clRow) bool {
	byID, byName := clQuery{likeClientID: q}, clQuery{likeUsername: q}
	return func(r clRow) bool {
		return q == "" || byID.match(r, node) || byName.match(r, node)
	}
}

// uiclGateways are the gateway select's entries: every gateway xgate can run, loaded or not.
func (s *Server) uiclGateways() []views.ClientsGateway {
	var out []views.ClientsGateway
	for _, name := range s.deps.Manager.Protocols() {
		g := views.ClientsGateway{Name: name}
		if rt := s.deps.Manager.Gateway(name); rt != nil {
			g.Loaded, g.Clients = true, len(rt.Clients())
		}
		out = append(out, g)
	}
	return out
}

// uiclDefaultGateway is the gateway /clients shows: the first with clients, else the first
// loaded one, else the first.
func uiclDefaultGateway(gws []views.ClientsGateway) string {
	if i := slices.IndexFunc(gws, func(g views.ClientsGateway) bool { return g.Clients > 0 }); i >= 0 {
		return gws[i].Name
	}
	if i := slices.IndexFunc(gws, func(g views.ClientsGateway) bool { return g.Loaded }); i >= 0 {
		return gws[i].Name
	}
	if len(gws) > 0 {
		return gws[0].Name
	}
	return ""
}

func uiclRow(r clRow) views.ClientRow {
	v := views.ClientRow{ClientID: r.info.ClientID, Username: r.info.Username, ProtoName: r.info.ProtoName,
		ProtoVer: r.info.ProtoVer, ConnectedAt: r.info.ConnectedAt, Subscriptions: r.subs,
		MessagesIn: r.counters.MessagesIn, MessagesOut: r.counters.MessagesOut}
	if r.peer.IsValid() {
		v.Peer = netip.AddrPortFrom(r.peer.Addr().Unmap(), r.peer.Port()).String()
	}
	return v
}

// uiClient is GET /gateways/{name}/clients/{clientid} (the clientid URL-encoded).
func (s *Server) uiClient(c *fiber.Ctx) error {
	_, cl, err := s.uiclClient(c)
	if err != nil {
		return s.uiclFail(c, err)
	}
	d := uiclDetail(c.Params("name"), cl)
	return s.uiRender(c, fiber.StatusOK, views.ClientPage(s.uiPage(c, "Client "+d.Client.ClientID, views.NavClients), d))
}

func uiclDetail(gw string, cl *gateway.Client) views.ClientDetail {
	r := clRowOf(cl)
	d := views.ClientDetail{Gateway: gw, Client: uiclRow(r), Mountpoint: r.info.Mountpoint,
		Keepalive: r.info.Keepalive, CleanStart: !r.info.KeepSession, Dropped: r.counters.Dropped,
		Subs: uiclSubs(gw, cl)}
	for k, v := range r.info.Attrs {
		d.Attrs = append(d.Attrs, views.ClientAttr{Key: k, Value: v})
	}
	slices.SortFunc(d.Attrs, func(a, b views.ClientAttr) int { return strings.Compare(a.Key, b.Key) })
	return d
}

// uiclSubs is the subscriptions section of cl, as the API lists them (topics with the
// mountpoint), in topic order.
func uiclSubs(gw string, cl *gateway.Client) views.ClientSubs {
	info := cl.Info()
	subs := views.ClientSubs{Gateway: gw, ClientID: info.ClientID, Supported: clCanSubscribe(cl),
		NeedsSubID: info.Protocol == "stomp"}
	for _, sub := range cl.Subscriptions() {
		subs.Subscriptions = append(subs.Subscriptions,
			views.ClientSub{Topic: gateway.Mount(info.Mountpoint, sub.Filter), Filter: sub.Filter, QoS: sub.QoS})
	}
	slices.SortFunc(subs.Subscriptions, func(a, b views.ClientSub) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Filter, b.Filter))
	})
	return subs
}

// uiClientSubscribe is the add-subscription form: it subscribes the client as
// POST /api/v5/gateways/{name}/clients/{clientid}/subscriptions does. A refusal comes back
// as the form with the message next to its field (422).
func (s *Server) uiClientSubscribe(c *fiber.Ctx) error {
	_, cl, err := s.uiclClient(c)
	if err != nil {
		return s.uiclFail(c, err)
	}
	gw := c.Params("name")
	// Form values point into fasthttp's buffers, reused by the next request; the session
	// keeps the topic and the subscription id (its subs map, the broker subscription).
	form := views.SubscribeForm{Topic: strings.Clone(c.FormValue("topic")), QoS: c.FormValue("qos"),
		SubID: strings.Clone(c.FormValue("subid"))}
	body := clSubscribeBody{Topic: &form.Topic}
	if form.SubID != "" {
		body.SubProps = &clSubProps{SubID: form.SubID}
	}
	if form.QoS != "" {
		body.QoS, err = strconv.Atoi(form.QoS)
		if err != nil {
			err = clFieldErr("qos", badRequest("qos: must be 0, 1 or 2"))
		}
	}
	if err == nil {
		err = clAddSubscription(c.UserContext(), gw, cl, body)
	}
	if err != nil {
		if s.uiclLeft(c, cl) {
			return s.uiclFail(c, &uiclGoneError{gw: gw, id: cl.Info().ClientID})
		}
		field, msg, ok := uiclFormError(err)
		if !ok {
			return err
		}
		subs := uiclSubs(gw, cl)
		subs.Form = form
		if field == "" {
			subs.Form.Error = msg
		} else {
			subs.Form.Errors = map[string]string{field: msg}
		}
		return s.uiclSubsAnswer(c, fiber.StatusUnprocessableEntity, cl, subs)
	}
	subs := uiclSubs(gw, cl)
	subs.Notice = "Subscribed " + cl.Info().ClientID + " to " + gateway.Mount(cl.Info().Mountpoint, form.Topic) + "."
	return s.uiclSubsAnswer(c, fiber.StatusOK, cl, subs)
}

// uiClientUnsubscribe is a remove button: it ends the subscription to the form's topic (the
// client's filter, without the mountpoint) as DELETE .../subscriptions/{topic} does.
func (s *Server) uiClientUnsubscribe(c *fiber.Ctx) error {
	_, cl, err := s.uiclClient(c)
	if err != nil {
		return s.uiclFail(c, err)
	}
	gw := c.Params("name")
	topic := c.FormValue("topic")
	if topic == "" {
		err = badRequest("Say which subscription to remove.")
	} else {
		err = clRemoveSubscription(c.UserContext(), gw, cl, topic)
	}
	if err != nil {
		if s.uiclLeft(c, cl) {
			return s.uiclFail(c, &uiclGoneError{gw: gw, id: cl.Info().ClientID})
		}
		_, msg, ok := uiclFormError(err)
		if !ok {
			return err
		}
		subs := uiclSubs(gw, cl)
		subs.Error = "Could not remove the subscription to " + topic + ": " + msg
		return s.uiclSubsAnswer(c, fiber.StatusUnprocessableEntity, cl, subs)
	}
	subs := uiclSubs(gw, cl)
	subs.Notice = "Removed the subscription to " + gateway.Mount(cl.Info().Mountpoint, topic) + "."
	return s.uiclSubsAnswer(c, fiber.StatusOK, cl, subs)
}

// uiclSubsAnswer answers a subscription change: htmx gets the subscriptions section; a
// plain form a redirect to the client's page after a change, the page with the section's
// error otherwise.
func (s *Server) uiclSubsAnswer(c *fiber.Ctx, status int, cl *gateway.Client, subs views.ClientSubs) error {
	if uiIsHTMX(c) {
		return s.uiRender(c, status, views.ClientSubscriptions(subs))
	}
	if status < fiber.StatusBadRequest {
		uiFlash(c, views.FlashSuccess, subs.Notice)
		return c.Redirect(views.ClientURL(subs.Gateway, subs.ClientID), fiber.StatusSeeOther)
	}
	d := uiclDetail(subs.Gateway, cl)
	d.Subs = subs
	return s.uiRender(c, status, views.ClientPage(s.uiPage(c, "Client "+d.Client.ClientID, views.NavClients), d))
}

// uiClientKick is the kick button: Runtime.Kick (the protocol's goodbye, then the
// connection closes), and back to the list.
func (s *Server) uiClientKick(c *fiber.Ctx) error {
	gw := c.Params("name")
	if !s.uiclKnown(gw) {
		return notFound("There is no gateway " + gw + ".")
	}
	id, err := clParam(c, "clientid")
	if err != nil {
		return err
	}
	if rt := s.deps.Manager.Gateway(gw); rt != nil && rt.Kick(id) {
		uiFlash(c, views.FlashSuccess, "Client "+id+" was kicked.")
	} else {
		uiFlash(c, views.FlashInfo, "Client "+id+" had already disconnected.")
	}
	return uiclRedirect(c, views.ClientsURL(gw))
}

// uiclGoneError: the client of the path is not connected (any more).
type uiclGoneError struct{ gw, id string }

func (e *uiclGoneError) Error() string { return "client " + e.id + " of " + e.gw + " is not connected" }

// uiclClient returns the gateway and the connected client of the path: a 404 for an
// unknown gateway, a *uiclGoneError when the client is not connected.
func (s *Server) uiclClient(c *fiber.Ctx) (*gateway.Runtime, *gateway.Client, error) {
	gw := c.Params("name")
	if !s.uiclKnown(gw) {
		return nil, nil, notFound("There is no gateway " + gw + ".")
	}
	id, err := clParam(c, "clientid")
	if err != nil {
		return nil, nil, err
	}
	rt := s.deps.Manager.Gateway(gw)
	if rt == nil {
		return nil, nil, &uiclGoneError{gw: gw, id: id}
	}
	cl := rt.Client(id)
	if cl == nil {
		return nil, nil, &uiclGoneError{gw: gw, id: id}
	}
	return rt, cl, nil
}

// uiclFail answers an error of uiclClient: a client that left sends the browser back to the
// list with a message (it may have disconnected while its page was open).
func (s *Server) uiclFail(c *fiber.Ctx, err error) error {
	var gone *uiclGoneError
	if !errors.As(err, &gone) {
		return err
	}
	uiFlash(c, views.FlashInfo, "Client "+gone.id+" is not connected to "+gone.gw+".")
	return uiclRedirect(c, views.ClientsURL(gone.gw))
}

// uiclLeft reports whether cl is no longer the connected client of its id (after an
// operation failed because of that).
func (s *Server) uiclLeft(c *fiber.Ctx, cl *gateway.Client) bool {
	rt := s.deps.Manager.Gateway(c.Params("name"))
	return rt == nil || rt.Client(cl.Info().ClientID) != cl
}

func (s *Server) uiclKnown(gw string) bool {
	return slices.Contains(s.deps.Manager.Protocols(), gw)
}

// uiclRedirect sends the browser to url after an action: htmx follows HX-Redirect, a plain
// form the 303.
func uiclRedirect(c *fiber.Ctx, url string) error {
	if uiIsHTMX(c) {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

// uiclFormError turns a refused subscription change into the form field it concerns ("" for
// none) and the message to show; ok is false for errors that are not a refusal (a server
// fault). The API's checks name their field (clFieldError); the protocol's own refusals do
// not, but STOMP's are about the subscription id ("Subscription id 1 is in used",
// "sub_props.subid is required ...") or the topic ("Topic t already in subscribed").
func uiclFormError(err error) (field, msg string, ok bool) {
	var fe *clFieldError
	if errors.As(err, &fe) {
		msg = strings.TrimPrefix(fe.err.Message, fe.field+": ")
		switch fe.field {
		case "topic":
			return views.SubscribeFieldTopic, msg, true
		case "qos":
			return views.SubscribeFieldQoS, msg, true
		}
		return "", fe.err.Message, true
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return "", "", false
	}
	switch m := ae.Message; {
	case strings.Contains(m, "sub_props.subid is required"):
		return views.SubscribeFieldSubID, "Required: every STOMP subscription has an id.", true
	case strings.HasPrefix(m, "Subscription id"):
		return views.SubscribeFieldSubID, m, true
	case strings.HasPrefix(m, "Topic "):
		return views.SubscribeFieldTopic, m, true
	}
	return "", ae.Message, true
}
