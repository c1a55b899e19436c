package web

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/gateway"
)

// clientRoutes registers EMQX's gateway clients API (emqx-reference §4 "Clients", the CoAP
// device request of §2.3) and the gateway statistics under the authenticated /api/v5 group.
func (s *Server) clientRoutes(r fiber.Router) {
	r.Get("/gateways/:name/clients", s.clList)
	r.Get("/gateways/:name/clients/:clientid", s.clGet)
	r.Delete("/gateways/:name/clients/:clientid", s.clKick)
	r.Get("/gateways/:name/clients/:clientid/subscriptions", s.clSubscriptions)
	r.Post("/gateways/:name/clients/:clientid/subscriptions", s.clSubscribe)
	// The topic is one URL-encoded segment in EMQX; "*" also takes it unencoded.
	r.Delete("/gateways/:name/clients/:clientid/subscriptions/*", s.clUnsubscribe)
	r.Post("/gateways/:name/clients/:clientid/request", s.clRequest)
	r.Get("/gateways/:name/stats", s.clStats)
}

// clOperationTimeout bounds an operator's subscribe or unsubscribe handed to a session.
const clOperationTimeout = 5 * time.Second

func (s *Server) clList(c *fiber.Ctx) error {
	rt, err := s.clGateway(c)
	if err != nil {
		return err
	}
	q, err := clParseQuery(c)
	if err != nil {
		return err
	}
	rows := clSelect(rt, func(r clRow) bool { return q.match(r, s.deps.Node) })
	data := []map[string]any{}
	for i := (q.page - 1) * q.limit; i < len(rows) && i < q.page*q.limit; i++ {
		data = append(data, s.clView(rows[i]))
	}
	return c.JSON(fiber.Map{
		"data": data,
		"meta": fiber.Map{"page": q.page, "limit": q.limit, "count": len(rows), "hasnext": q.page*q.limit < len(rows)},
	})
}

// clSelect reads the clients of rt that keep accepts, oldest connection first: the order of
// the API's list and of the dashboard's table, so that paging is stable.
func clSelect(rt *gateway.Runtime, keep func(clRow) bool) []clRow {
	var rows []clRow
	for _, cl := range rt.Clients() {
		if row := clRowOf(cl); keep(row) {
			rows = append(rows, row)
		}
	}
	slices.SortFunc(rows, func(a, b clRow) int {
		return cmp.Or(a.info.ConnectedAt.Compare(b.info.ConnectedAt), strings.Compare(a.info.ClientID, b.info.ClientID))
	})
	return rows
}

func (s *Server) clGet(c *fiber.Ctx) error {
	_, cl, err := s.clClient(c)
	if err != nil {
		return err
	}
	return c.JSON(s.clView(clRowOf(cl)))
}

// clKick ends the client's session with the protocol's goodbye (STOMP: ERROR "Kicked out").
func (s *Server) clKick(c *fiber.Ctx) error {
	rt, err := s.clGateway(c)
	if err != nil {
		return err
	}
	id, err := clParam(c, "clientid")
	if err != nil {
		return err
	}
	if !rt.Kick(id) {
		return notFound("Client not found")
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// clSubscription is one subscription as EMQX lists it: the topic with the mountpoint. The
// core applies no per-subscription options, so nl, rap and rh report their defaults.
type clSubscription struct {
	Topic    string      `json:"topic"`
	QoS      byte        `json:"qos"`
	NL       int         `json:"nl"`
	RAP      int         `json:"rap"`
	RH       int         `json:"rh"`
	SubProps *clSubProps `json:"sub_props,omitempty"`
}

type clSubProps struct {
	SubID string `json:"subid"`
}

func (s *Server) clSubscriptions(c *fiber.Ctx) error {
	_, cl, err := s.clClient(c)
	if err != nil {
		return err
	}
	mp := cl.Info().Mountpoint
	out := []clSubscription{}
	for _, sub := range cl.Subscriptions() {
		out = append(out, clSubscription{Topic: gateway.Mount(mp, sub.Filter), QoS: sub.QoS})
	}
	return c.JSON(out)
}

// clSubscribeBody is EMQX's subscription body. nl, rap and rh are checked and echoed as EMQX
// does; the gateway core has no such options.
type clSubscribeBody struct {
	Topic    *string     `json:"topic"`
	QoS      int         `json:"qos"`
	NL       int         `json:"nl"`
	RAP      int         `json:"rap"`
	RH       int         `json:"rh"`
	SubProps *clSubProps `json:"sub_props"`
}

func (b *clSubscribeBody) validate() error {
	switch {
	case b.Topic == nil || *b.Topic == "":
		return clFieldErr("topic", badRequest("Miss topic property"))
	case !clValidFilter(*b.Topic):
		return clFieldErr("topic", badRequest("topic: "+strconv.Quote(*b.Topic)+" is not a valid topic filter"))
	case b.QoS < 0 || b.QoS > 2:
		return clFieldErr("qos", badRequest("qos: must be 0, 1 or 2"))
	case b.NL < 0 || b.NL > 1:
		return clFieldErr("nl", badRequest("nl: must be 0 or 1"))
	case b.RAP < 0 || b.RAP > 1:
		return clFieldErr("rap", badRequest("rap: must be 0 or 1"))
	case b.RH < 0 || b.RH > 2:
		return clFieldErr("rh", badRequest("rh: must be 0, 1 or 2"))
	}
	return nil
}

// clFieldError is a refused subscription naming the body field at fault, so that the
// dashboard can show the message next to its input; the API answers it as its APIError.
type clFieldError struct {
	field string
	err   *APIError
}

func clFieldErr(field string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	return &clFieldError{field: field, err: ae}
}

func (e *clFieldError) Error() string { return e.err.Error() }
func (e *clFieldError) Unwrap() error { return e.err }

// clSubscribe subscribes the client on its behalf through its protocol session, so that
// the protocol knows the subscription (STOMP sends MESSAGE frames with sub_props.subid as
// their subscription; MQTT-SN REGISTERs the topic before the first message).
func (s *Server) clSubscribe(c *fiber.Ctx) error {
	_, cl, err := s.clClient(c)
	if err != nil {
		return err
	}
	var body clSubscribeBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if err := clAddSubscription(c.UserContext(), c.Params("name"), cl, body); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(clSubscription{
		Topic: gateway.Mount(cl.Info().Mountpoint, *body.Topic), QoS: byte(body.QoS),
		NL: body.NL, RAP: body.RAP, RH: body.RH, SubProps: body.SubProps,
	})
}

// clUnsubscribe takes the topic without the mountpoint, as EMQX.
func (s *Server) clUnsubscribe(c *fiber.Ctx) error {
	_, cl, err := s.clClient(c)
	if err != nil {
		return err
	}
	topic, err := clParam(c, "*")
	if err != nil {
		return err
	}
	if topic == "" {
		return badRequest("topic: required in the path")
	}
	if err := clRemoveSubscription(c.UserContext(), c.Params("name"), cl, topic); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// clCanSubscribe reports whether the operator can subscribe and unsubscribe cl (its
// protocol's sessions implement gateway.SubscriptionManager; CoAP's do not).
func clCanSubscribe(cl *gateway.Client) bool {
	_, ok := cl.Session().(gateway.SubscriptionManager)
	return ok
}

// clAddSubscription checks body and subscribes cl of gateway gw on its behalf through its
// protocol session: POST .../subscriptions after decoding, shared with the dashboard. A
// refused field is a *clFieldError.
func clAddSubscription(ctx context.Context, gw string, cl *gateway.Client, body clSubscribeBody) error {
	if err := body.validate(); err != nil {
		return err
	}
	sm, ok := cl.Session().(gateway.SubscriptionManager)
	if !ok {
		return badRequest(clUnsupported(gw, "subscribing its clients through the API"))
	}
	subID := ""
	if body.SubProps != nil {
		subID = body.SubProps.SubID
	}
	ctx, cancel := context.WithTimeout(ctx, clOperationTimeout)
	defer cancel()
	if err := sm.AddSubscription(ctx, *body.Topic, byte(body.QoS), subID); err != nil {
		return clSubscriptionError(cl, *body.Topic, err)
	}
	return nil
}

// clRemoveSubscription ends cl's subscription to topic (unmounted) through its protocol
// session: DELETE .../subscriptions/{topic}, shared with the dashboard.
func clRemoveSubscription(ctx context.Context, gw string, cl *gateway.Client, topic string) error {
	sm, ok := cl.Session().(gateway.SubscriptionManager)
	if !ok {
		return badRequest(clUnsupported(gw, "unsubscribing its clients through the API"))
	}
	ctx, cancel := context.WithTimeout(ctx, clOperationTimeout)
	defer cancel()
	if err := sm.RemoveSubscription(ctx, topic); err != nil {
		return clSubscriptionError(cl, topic, err)
	}
	return nil
}

// clSubscriptionError maps a SubscriptionManager error: the protocol's own refusals are
// written for the operator (STOMP's "Subscription id 1 is in used"). Authorization applies
// as to the client's own SUBSCRIBE, but a denial never disconnects the client.
func clSubscriptionError(cl *gateway.Client, topic string, err error) error {
	switch {
	case errors.Is(err, gateway.ErrNotAuthorized):
		return clFieldErr("topic", badRequest("topic "+topic+": client "+cl.Info().ClientID+" is not authorized to subscribe"))
	case errors.Is(err, gateway.ErrNotLoggedIn):
		return notFound("Client not found")
	case errors.Is(err, gateway.ErrNoSubscription):
		return notFound("Subscription not found")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &APIError{Status: fiber.StatusGatewayTimeout, Code: "CLIENT_NOT_RESPONSE",
			Message: "the session of client " + cl.Info().ClientID + " did not answer in time"}
	}
	return badRequest(err.Error())
}

func clUnsupported(gw, what string) string {
	return "gateway " + gw + ": " + what + " is unsupported"
}

// clRequestBody is EMQX's CoAP request body plus the resource path. token is EMQX's and is
// accepted for its scripts; the gateway picks the CoAP token of each request itself.
type clRequestBody struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	ContentType string          `json:"content_type"`
	Payload     *string         `json:"payload"`
	Timeout     json.RawMessage `json:"timeout"`
	Token       string          `json:"token"`
}

// clContentTypes are the content types a device request may carry.
var clContentTypes = []string{"text/plain", "application/json", "application/octet-stream", "application/link-format", "application/cbor"}

// clRequest sends a request to a connected device (CoAP) and answers with the device's
// response: {code, content_type, payload}. Payloads of other than text types are base64 in
// both directions, as EMQX does for application/octet-stream.
func (s *Server) clRequest(c *fiber.Ctx) error {
	rt, err := s.clGateway(c)
	if err != nil {
		return err
	}
	id, err := clParam(c, "clientid")
	if err != nil {
		return err
	}
	req, err := clParseRequest(c)
	if err != nil {
		return err
	}
	resp, err := rt.Request(c.UserContext(), id, req)
	switch {
	case errors.Is(err, gateway.ErrClientNotFound):
		return &APIError{Status: fiber.StatusNotFound, Code: "CLIENT_NOT_FOUND", Message: "Client not found"}
	case errors.Is(err, gateway.ErrNoResponse):
		return &APIError{Status: fiber.StatusGatewayTimeout, Code: "CLIENT_NOT_RESPONSE",
			Message: fmt.Sprintf("client %s did not respond within %v", id, clTimeoutOf(req))}
	case errors.Is(err, gateway.ErrNotSupported):
		return badRequest(clUnsupported(c.Params("name"), "sending requests to its clients"))
	case err != nil:
		return fmt.Errorf("gateway %s: request to client %s: %w", c.Params("name"), id, err)
	}
	payload := string(resp.Payload)
	if !clTextType(resp.ContentType) {
		payload = base64.StdEncoding.EncodeToString(resp.Payload)
	}
	return c.JSON(fiber.Map{"code": resp.Code, "content_type": resp.ContentType, "payload": payload})
}

func clParseRequest(c *fiber.Ctx) (gateway.DeviceRequest, error) {
	var body clRequestBody
	if err := decodeStrict(c, &body); err != nil {
		return gateway.DeviceRequest{}, err
	}
	req := gateway.DeviceRequest{Method: strings.ToLower(body.Method), Path: body.Path, ContentType: body.ContentType}
	switch req.Method {
	case "":
		req.Method = "get"
	case "get", "put", "post", "delete":
	default:
		return req, badRequest("method: must be get, put, post or delete")
	}
	if !strings.HasPrefix(req.Path, "/") {
		req.Path = "/" + req.Path
	}
	if req.ContentType == "" {
		req.ContentType = "text/plain"
	}
	if !slices.Contains(clContentTypes, req.ContentType) {
		return req, badRequest("content_type: must be one of " + strings.Join(clContentTypes, ", "))
	}
	if body.Payload != nil {
		req.Payload = []byte(*body.Payload)
		if !clTextType(req.ContentType) {
			b, err := base64.StdEncoding.DecodeString(*body.Payload)
			if err != nil {
				return req, badRequest("payload: must be base64 for " + req.ContentType)
			}
			req.Payload = b
		}
	}
	if len(body.Timeout) > 0 && string(body.Timeout) != "null" {
		var d gateway.Duration
		if err := json.Unmarshal(body.Timeout, &d); err != nil {
			return req, badRequest("timeout: " + err.Error())
		}
		if d.D() <= 0 || d.D() > clMaxRequestTimeout {
			return req, badRequest("timeout: must be above 0 and at most " + clMaxRequestTimeout.String())
		}
		req.Timeout = d.D()
	}
	return req, nil
}

// clMaxRequestTimeout bounds how long an API request may wait for a device.
const clMaxRequestTimeout = 5 * time.Minute

func clTimeoutOf(req gateway.DeviceRequest) time.Duration {
	if req.Timeout > 0 {
		return req.Timeout
	}
	return gateway.DefaultRequestTimeout
}

// clTextType reports whether payloads of content type ct travel as text (not base64).
func clTextType(ct string) bool {
	switch ct {
	case "", "text/plain", "application/json", "application/link-format":
		return true
	}
	return false
}

// clGateway returns the runtime of the gateway named in the path.
func (s *Server) clGateway(c *fiber.Ctx) (*gateway.Runtime, error) {
	name := c.Params("name")
	rt := s.deps.Manager.Gateway(name)
	if rt == nil {
		return nil, notFound("Gateway not loaded: " + name)
	}
	return rt, nil
}

// clClient returns the gateway and the logged-in client named in the path.
func (s *Server) clClient(c *fiber.Ctx) (*gateway.Runtime, *gateway.Client, error) {
	rt, err := s.clGateway(c)
	if err != nil {
		return nil, nil, err
	}
	id, err := clParam(c, "clientid")
	if err != nil {
		return nil, nil, err
	}
	cl := rt.Client(id)
	if cl == nil {
		return nil, nil, notFound("Client not found")
	}
	return rt, cl, nil
}

// clParam returns a URL-decoded path parameter (clientids and topics may hold "/", "+" and
// spaces), copied out of fiber's reused buffer.
func clParam(c *fiber.Ctx, key string) (string, error) {
	v, err := url.PathUnescape(c.Params(key))
	if err != nil {
		return "", badRequest(key + ": invalid URL encoding")
	}
	return strings.Clone(v), nil
}

// clValidFilter reports whether f is an MQTT topic filter: "#" only as the last level, "+"
// only as a whole level, no NUL, at most 65535 bytes.
func clValidFilter(f string) bool {
	if f == "" || len(f) > 65535 || strings.ContainsRune(f, 0) {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// clRow is what the list and the client object show of one client, read once.
type clRow struct {
	info     gateway.ClientInfo
	peer     netip.AddrPort // the session's current address (MQTT-SN clients may move)
	counters gateway.ClientCounters
	subs     int
}

func clRowOf(cl *gateway.Client) clRow {
	r := clRow{info: cl.Info(), counters: cl.Counters(), subs: cl.SubscriptionCount()}
	r.peer = r.info.Peer
	if p := cl.Session().Info().Peer; p.IsValid() {
		r.peer = p
	}
	return r
}

// clProtocolAttrs are ClientInfo.Attrs shown as fields of their own (LwM2M's); the other
// attributes are the client_attrs an authenticator returned.
var clProtocolAttrs = []string{"endpoint_name", "lifetime"}

// clView is EMQX's client object: the fields xgate knows, null for those it does not keep.
func (s *Server) clView(r clRow) map[string]any {
	ci := r.info
	v := map[string]any{
		"node":              s.deps.Node,
		"clientid":          ci.ClientID,
		"username":          clNullable(ci.Username),
		"mountpoint":        clNullable(ci.Mountpoint),
		"proto_name":        ci.ProtoName,
		"proto_ver":         ci.ProtoVer,
		"ip_address":        nil,
		"port":              nil,
		"is_bridge":         false,
		"connected_at":      clTime(ci.ConnectedAt),
		"disconnected_at":   nil,
		"connected":         true,
		"keepalive":         ci.Keepalive,
		"clean_start":       !ci.KeepSession,
		"expiry_interval":   nil,
		"created_at":        clTime(ci.ConnectedAt),
		"subscriptions_cnt": r.subs,
		"subscriptions_max": nil,
		"inflight_cnt":      nil,
		"inflight_max":      nil,
		"mqueue_len":        nil,
		"mqueue_max":        nil,
		"mqueue_dropped":    r.counters.Dropped,
		"awaiting_rel_cnt":  nil,
		"awaiting_rel_max":  nil,
		"recv_oct":          nil,
		"recv_cnt":          nil,
		"recv_pkt":          nil,
		"recv_msg":          r.counters.MessagesIn,
		"send_oct":          nil,
		"send_cnt":          nil,
		"send_pkt":          nil,
		"send_msg":          r.counters.MessagesOut,
		"mailbox_len":       nil,
		"heap_size":         nil,
		"reductions":        nil,
	}
	if r.peer.IsValid() {
		v["ip_address"] = r.peer.Addr().Unmap().String()
		v["port"] = r.peer.Port()
	}
	attrs := map[string]string{}
	for k, val := range ci.Attrs {
		if !slices.Contains(clProtocolAttrs, k) {
			attrs[k] = val
			continue
		}
		if n, err := strconv.ParseInt(val, 10, 64); err == nil && k == "lifetime" {
			v[k] = n
		} else {
			v[k] = val
		}
	}
	v["client_attrs"] = attrs
	return v
}

func clNullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// clTime formats a time as EMQX does: RFC 3339 with milliseconds.
func clTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// Paging of the clients list, as EMQX's.
const (
	clDefaultLimit = 100
	clMaxLimit     = 10000
)

// clQuery is the list's paging and EMQX's filters; zero values filter nothing.
type clQuery struct {
	page, limit                                        int
	node, clientID, username, protoVer                 string
	likeClientID, likeUsername                         string
	endpointName, likeEndpointName                     string // LwM2M
	ip                                                 netip.Addr
	connected, cleanStart                              *bool
	gteCreated, lteCreated, gteConnected, lteConnected time.Time
	gteLifetime, lteLifetime                           *int64 // LwM2M
}

func clInvalid(msg string) error {
	return &APIError{Status: fiber.StatusBadRequest, Code: "INVALID_PARAMETER", Message: msg}
}

// clParseQuery reads the paging and filters; a value that cannot mean anything is a 400
// INVALID_PARAMETER naming the parameter. Unknown parameters are ignored, as EMQX does.
func clParseQuery(c *fiber.Ctx) (clQuery, error) {
	q := clQuery{page: 1, limit: clDefaultLimit}
	for _, p := range []struct {
		key      string
		dst      *int
		min, max int
	}{{"page", &q.page, 1, 1 << 30}, {"limit", &q.limit, 1, clMaxLimit}} {
		if v := c.Query(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				return q, clInvalid(fmt.Sprintf("%s: must be an integer from %d to %d", p.key, p.min, p.max))
			}
			*p.dst = n
		}
	}
	q.node, q.clientID, q.username, q.protoVer = c.Query("node"), c.Query("clientid"), c.Query("username"), c.Query("proto_ver")
	q.likeClientID, q.likeUsername = c.Query("like_clientid"), c.Query("like_username")
	q.endpointName, q.likeEndpointName = c.Query("endpoint_name"), c.Query("like_endpoint_name")
	if v := c.Query("ip_address"); v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return q, clInvalid("ip_address: " + strconv.Quote(v) + " is not an IP address")
		}
		q.ip = a.Unmap()
	}
	switch v := c.Query("conn_state"); v {
	case "":
	case "connected", "idle", "disconnected": // every listed client is connected
		connected := v == "connected"
		q.connected = &connected
	default:
		return q, clInvalid("conn_state: must be connected, idle or disconnected")
	}
	if v := c.Query("clean_start"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return q, clInvalid("clean_start: must be true or false")
		}
		q.cleanStart = &b
	}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"gte_created_at", &q.gteCreated}, {"lte_created_at", &q.lteCreated},
		{"gte_connected_at", &q.gteConnected}, {"lte_connected_at", &q.lteConnected}} {
		if v := c.Query(p.key); v != "" {
			t, ok := clParseTime(v)
			if !ok {
				return q, clInvalid(p.key + ": must be an RFC 3339 time or epoch milliseconds")
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		key string
		dst **int64
	}{{"gte_lifetime", &q.gteLifetime}, {"lte_lifetime", &q.lteLifetime}} {
		if v := c.Query(p.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return q, clInvalid(p.key + ": must be an integer (seconds)")
			}
			*p.dst = &n
		}
	}
	return q, nil
}

// clParseTime reads epoch milliseconds or an RFC 3339 time. A "+" of an unencoded offset
// arrives as a space in a query string and is read as "+".
func clParseTime(v string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	return t, err == nil
}

func (q *clQuery) match(r clRow, node string) bool {
	ci := r.info
	// Compared at the milliseconds the API shows, so a listed connected_at finds its client.
	at := ci.ConnectedAt.Truncate(time.Millisecond)
	lifetime, lifetimeErr := strconv.ParseInt(ci.Attrs["lifetime"], 10, 64)
	switch {
	case q.node != "" && q.node != node,
		q.clientID != "" && ci.ClientID != q.clientID,
		q.username != "" && ci.Username != q.username,
		q.protoVer != "" && ci.ProtoVer != q.protoVer,
		q.likeClientID != "" && !strings.Contains(ci.ClientID, q.likeClientID),
		q.likeUsername != "" && !strings.Contains(ci.Username, q.likeUsername),
		q.endpointName != "" && ci.Attrs["endpoint_name"] != q.endpointName,
		q.likeEndpointName != "" && !strings.Contains(ci.Attrs["endpoint_name"], q.likeEndpointName),
		q.ip.IsValid() && r.peer.Addr().Unmap() != q.ip,
		q.connected != nil && !*q.connected,
		q.cleanStart != nil && *q.cleanStart == ci.KeepSession,
		// A session is created with its connection (created_at = connected_at).
		!q.gteCreated.IsZero() && at.Before(q.gteCreated),
		!q.lteCreated.IsZero() && at.After(q.lteCreated),
		!q.gteConnected.IsZero() && at.Before(q.gteConnected),
		!q.lteConnected.IsZero() && at.After(q.lteConnected),
		q.gteLifetime != nil && (lifetimeErr != nil || lifetime < *q.gteLifetime),
		q.lteLifetime != nil && (lifetimeErr != nil || lifetime > *q.lteLifetime):
		return false
	}
	return true
}
