package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

// uiclHTMX are the headers of an htmx request.
var uiclHTMX = []string{"HX-Request", "true"}

func TestUIClientsList(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	alice := clDialStomp(t, a, "alice")
	clDialStomp(t, a, "bob")
	aliceID, bobID := clStompID(t, a, "alice"), clStompID(t, a, "bob")
	alice.send("SUBSCRIBE\nid:1\ndestination:l/1\nreceipt:r\n\n\x00")
	alice.expect("RECEIPT")
	alice.send("SEND\ndestination:l/1\n\nhi\x00")
	alice.expect("MESSAGE")

	// /clients shows the first gateway with clients (coap and mqttsn have none).
	resp := b.get("/clients")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /clients: %d %s", resp.StatusCode, resp.body)
	}
	doc := resp.doc(t)
	if got := vt.One(t, doc, "clients-table-region").AttrOr("data-gateway", ""); got != "stomp" {
		t.Fatalf("default gateway %q", got)
	}
	if _, ok := vt.One(t, doc, "nav-clients").Attr("aria-current"); !ok {
		t.Error("Clients not the current navigation entry")
	}
	if got := vt.Text(t, doc, "clients-gateway-option-stomp"); got != "stomp (2 clients)" {
		t.Errorf("option %q", got)
	}
	row := vt.One(t, doc, "client-row-"+aliceID)
	port := alice.c.LocalAddr().String()[len("127.0.0.1:"):]
	for id, want := range map[string]string{
		"client-username-": "alice", "client-peer-": "127.0.0.1:" + port, "client-protocol-": "STOMP 1.2",
		"client-subscriptions-": "1", "client-messages-in-": "1", "client-messages-out-": "1",
	} {
		if got := vt.Text(t, row, id+aliceID); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	vt.One(t, doc, "client-row-"+bobID)

	// ?gateway= chooses another; a gateway without clients says so.
	doc = b.get("/clients?gateway=mqttsn").doc(t)
	vt.One(t, doc, "clients-empty")
	if _, ok := vt.One(t, doc, "clients-gateway-option-mqttsn").Attr("selected"); !ok {
		t.Error("mqttsn not selected")
	}

	for _, tc := range []struct {
		name, query string
		want        []string
		page        string
	}{
		{"username part", "q=li", []string{aliceID}, ""},
		{"clientid part", "q=" + url.QueryEscape(bobID[3:9]), []string{bobID}, ""},
		{"either", "q=", []string{aliceID, bobID}, ""},
		{"no match", "q=zz", nil, ""},
		{"first page", "limit=1", []string{aliceID}, "Page 1 of 2"},
		{"second page", "limit=1&page=2", []string{bobID}, "Page 2 of 2"},
		{"past the end shows the last", "limit=1&page=9", []string{bobID}, "Page 2 of 2"},
		{"bad page", "page=x", []string{aliceID, bobID}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// htmx (typing, paging, the refresh) gets the table alone.
			resp := b.get("/gateways/stomp/clients?"+tc.query, uiclHTMX...)
			doc := resp.doc(t)
			if resp.StatusCode != http.StatusOK || vt.Has(doc, "site-header") || !vt.Has(doc, "clients-table-region") {
				t.Fatalf("htmx: %d %s", resp.StatusCode, resp.body)
			}
			var got []string
			vt.Find(doc, "clients-table").Find("tbody tr").Each(func(_ int, s *goquery.Selection) {
				got = append(got, s.AttrOr("data-clientid", ""))
			})
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("rows %v, want %v", got, tc.want)
			}
			if tc.page != "" {
				if p := vt.Text(t, doc, "clients-page-info"); p != tc.page {
					t.Errorf("page %q, want %q", p, tc.page)
				}
			}
		})
	}

	// The page itself keeps the search (a reload after htmx pushed the URL).
	doc = b.get("/gateways/stomp/clients?q=li").doc(t)
	if vt.One(t, doc, "clients-search").AttrOr("value", "") != "li" || !vt.Has(doc, "site-header") {
		t.Error("search not kept in the full page")
	}
	// A history restore asks with htmx headers and needs the whole page.
	doc = b.get("/gateways/stomp/clients?q=li", "HX-Request", "true", "HX-History-Restore-Request", "true").doc(t)
	vt.One(t, doc, "site-header")

	for _, path := range []string{"/gateways/nope/clients", "/clients?gateway=nope", "/gateways/nope/clients/x"} {
		if resp := b.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

func TestUIClientsNeedSession(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	if resp := b.get("/clients"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("GET /clients without a session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := b.get("/gateways/stomp/clients", uiclHTMX...); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") == "" {
		t.Errorf("htmx refresh without a session: %d", resp.StatusCode)
	}
}

// TestUIClientSubscriptions: the form subscribes the STOMP client through its session (a
// MQTT publish reaches it with the subscription id), refusals come back next to their
// field with nothing subscribed, and the remove button unsubscribes.
func TestUIClientSubscriptions(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	a.clEditGateway("stomp", func(c *gateway.Config) { c.Mountpoint = "mp/" })
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	csrf := b.csrf()
	alice := clDialStomp(t, a, "alice")
	id := clStompID(t, a, "alice")
	cl := a.mgr.Gateway("stomp").Client(id)
	page := views.ClientURL("stomp", id)

	doc := b.get(page).doc(t)
	if got := vt.Text(t, doc, "client-info-username"); got != "alice" {
		t.Fatalf("username %q", got)
	}
	vt.One(t, doc, "client-subscriptions-empty")
	vt.One(t, doc, "client-subscribe-subid")

	post := func(path string, form url.Values, header ...string) uiResponse {
		t.Helper()
		form.Set(views.CSRFFieldName, csrf)
		return b.do("POST", path, form, header...)
	}
	resp := post(page+"/subscriptions", url.Values{"topic": {"t/1"}, "qos": {"1"}, "subid": {"s-1"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, resp.body)
	}
	doc = resp.doc(t)
	if vt.Has(doc, "site-header") || vt.Text(t, doc, "client-sub-topic-t/1") != "mp/t/1" || vt.Text(t, doc, "client-sub-qos-t/1") != "1" {
		t.Fatalf("answer %s", resp.body)
	}
	if got := vt.Text(t, doc, "client-subscriptions-notice"); !strings.Contains(got, "mp/t/1") {
		t.Errorf("notice %q", got)
	}
	if got := vt.One(t, doc, "client-subscribe-topic").AttrOr("value", "x"); got != "" {
		t.Errorf("form not cleared after success: %q", got)
	}
	gatewaytest.MQTTPublish(t, gatewaytest.MQTTClient(t, a.mqttAddr, "pub"), "mp/t/1", 1, "from mqtt")
	if m := alice.expect("MESSAGE"); m.Value("subscription") != "s-1" || string(m.Body) != "from mqtt" {
		t.Fatalf("MESSAGE %v %q", m.Headers, m.Body)
	}

	for _, tc := range []struct {
		name        string
		form        url.Values
		field, want string
	}{
		{"no topic", url.Values{"topic": {""}, "subid": {"s-2"}}, "topic", "Miss topic property"},
		{"bad filter", url.Values{"topic": {"a/#/b"}, "subid": {"s-2"}}, "topic", `"a/#/b" is not a valid topic filter`},
		{"topic in use", url.Values{"topic": {"t/1"}, "subid": {"s-2"}}, "topic", "Topic t/1 already in subscribed"},
		{"bad qos", url.Values{"topic": {"t/2"}, "qos": {"3"}, "subid": {"s-2"}}, "qos", "must be 0, 1 or 2"},
		{"qos not a number", url.Values{"topic": {"t/2"}, "qos": {"x"}, "subid": {"s-2"}}, "qos", "must be 0, 1 or 2"},
		{"no subid", url.Values{"topic": {"t/2"}}, "subid", "Required: every STOMP subscription has an id."},
		{"subid in use", url.Values{"topic": {"t/2"}, "subid": {"s-1"}}, "subid", "Subscription id s-1 is in used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(page+"/subscriptions", tc.form, uiclHTMX...)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%d %s", resp.StatusCode, resp.body)
			}
			doc := resp.doc(t)
			if got := vt.Text(t, doc, "client-subscribe-"+tc.field+"-error"); got != tc.want {
				t.Errorf("error %q, want %q", got, tc.want)
			}
			if vt.One(t, doc, "client-subscribe-"+tc.field).AttrOr("aria-invalid", "") != "true" {
				t.Error("field not marked invalid")
			}
			if got := vt.One(t, doc, "client-subscribe-topic").AttrOr("value", ""); got != tc.form.Get("topic") {
				t.Errorf("topic not kept: %q", got)
			}
			if n := cl.SubscriptionCount(); n != 1 {
				t.Errorf("%d subscriptions after a refusal", n)
			}
		})
	}

	// Without htmx: the page with the error (422), or a redirect with a message.
	resp = post(page+"/subscriptions", url.Values{"topic": {"a/#/b"}, "subid": {"x"}})
	if doc := resp.doc(t); resp.StatusCode != http.StatusUnprocessableEntity || !vt.Has(doc, "site-header") ||
		!vt.Has(doc, "client-subscribe-topic-error") {
		t.Fatalf("plain refused: %d %s", resp.StatusCode, resp.body)
	}
	resp = post(page+"/subscriptions", url.Values{"topic": {"t/3"}, "qos": {"0"}, "subid": {"s-3"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("plain subscribe: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	doc = b.get(page).doc(t)
	if got := vt.Text(t, doc, "flash-success"); !strings.Contains(got, "mp/t/3") {
		t.Errorf("flash %q", got)
	}
	vt.One(t, doc, "client-sub-t/3")

	// Remove.
	resp = post(page+"/unsubscribe", url.Values{"topic": {"t/1"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusOK || vt.Has(resp.doc(t), "client-sub-t/1") || !vt.Has(resp.doc(t), "client-sub-t/3") {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, resp.body)
	}
	if subs := cl.Subscriptions(); len(subs) != 1 || subs[0].Filter != "t/3" {
		t.Fatalf("subscriptions after removal: %d", len(subs))
	}
	resp = post(page+"/unsubscribe", url.Values{"topic": {"t/1"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(vt.Text(t, resp.doc(t), "client-subscriptions-error"), "Subscription not found") {
		t.Fatalf("unsubscribe twice: %d %s", resp.StatusCode, resp.body)
	}
	// The subscription id is free again for the client itself.
	alice.send("SUBSCRIBE\nid:s-1\ndestination:t/9\nreceipt:r\n\n\x00")
	alice.expect("RECEIPT")
}

func TestUIClientCSRF(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	clDialStomp(t, a, "alice")
	id := clStompID(t, a, "alice")
	page := views.ClientURL("stomp", id)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{page + "/subscriptions", url.Values{"topic": {"t/1"}, "subid": {"1"}}},
		{page + "/unsubscribe", url.Values{"topic": {"t/1"}}},
		{page + "/kick", url.Values{}},
	} {
		for _, token := range []string{"", "forged"} {
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			if token != "" {
				form.Set(views.CSRFFieldName, token)
			}
			if resp := b.do("POST", tc.path, form, uiclHTMX...); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d", tc.path, token, resp.StatusCode)
			}
		}
	}
	cl := a.mgr.Gateway("stomp").Client(id)
	if cl == nil || cl.SubscriptionCount() != 0 {
		t.Fatal("a request without the CSRF token changed the client")
	}
}

func TestUIClientKick(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	csrf := b.csrf()
	alice := clDialStomp(t, a, "alice")
	bob := clDialStomp(t, a, "bob")
	aliceID, bobID := clStompID(t, a, "alice"), clStompID(t, a, "bob")

	// The kick button (htmx) answers with where to go: the list.
	resp := b.do("POST", views.ClientURL("stomp", aliceID)+"/kick", url.Values{views.CSRFFieldName: {csrf}}, uiclHTMX...)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != "/gateways/stomp/clients" {
		t.Fatalf("kick: %d %v", resp.StatusCode, resp.Header)
	}
	if e := alice.expect("ERROR"); e.Value("message") != "Kicked out" {
		t.Fatalf("ERROR %v", e.Headers)
	}
	alice.expectClosed()
	doc := b.get("/gateways/stomp/clients").doc(t)
	if got := vt.Text(t, doc, "flash-success"); got != "Client "+aliceID+" was kicked." {
		t.Errorf("flash %q", got)
	}
	if vt.Has(doc, "client-row-"+aliceID) || !vt.Has(doc, "client-row-"+bobID) {
		t.Error("the list does not follow the kick")
	}

	// Its page is gone: back to the list with a message.
	resp = b.get(views.ClientURL("stomp", aliceID))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/gateways/stomp/clients" {
		t.Fatalf("page of a kicked client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := vt.Text(t, b.get("/gateways/stomp/clients").doc(t), "flash-info"); !strings.Contains(got, "is not connected") {
		t.Errorf("flash %q", got)
	}
	resp = b.do("POST", views.ClientURL("stomp", aliceID)+"/subscriptions",
		url.Values{views.CSRFFieldName: {csrf}, "topic": {"t"}, "subid": {"1"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != "/gateways/stomp/clients" {
		t.Errorf("subscribing a kicked client: %d %v", resp.StatusCode, resp.Header)
	}

	// Without htmx: a redirect; kicking a client that left says so.
	resp = b.do("POST", views.ClientURL("stomp", bobID)+"/kick", url.Values{views.CSRFFieldName: {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/gateways/stomp/clients" {
		t.Fatalf("plain kick: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	bob.expect("ERROR")
	b.get("/") // takes the flash
	b.do("POST", views.ClientURL("stomp", bobID)+"/kick", url.Values{views.CSRFFieldName: {csrf}})
	if got := vt.Text(t, b.get("/gateways/stomp/clients").doc(t), "flash-info"); got != "Client "+bobID+" had already disconnected." {
		t.Errorf("flash %q", got)
	}
}

// TestUIClientEncodedIDAndUnsupported: a clientid with "/" and spaces has a page (one
// encoded segment); MQTT-SN clients take subscriptions without an id; CoAP's none.
func TestUIClientEncodedIDAndUnsupported(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	csrf := b.csrf()
	const id = "dev/1 +x"
	clDialSN(t, a, id, true)
	page := views.ClientURL("mqttsn", id)
	doc := b.get("/gateways/mqttsn/clients").doc(t)
	if href := vt.One(t, doc, "client-link-"+id).AttrOr("href", ""); href != page {
		t.Fatalf("link %q, want %q", href, page)
	}
	resp := b.get(page)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", page, resp.StatusCode)
	}
	doc = resp.doc(t)
	if got := vt.Text(t, doc, "client-title"); got != id {
		t.Errorf("title %q", got)
	}
	if vt.Has(doc, "client-subscribe-subid") || !vt.Has(doc, "client-subscribe-form") {
		t.Error("MQTT-SN form: want topic and QoS only")
	}
	resp = b.do("POST", page+"/subscriptions", url.Values{views.CSRFFieldName: {csrf}, "topic": {"sn/t"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusOK || !vt.Has(resp.doc(t), "client-sub-sn/t") {
		t.Fatalf("MQTT-SN subscribe: %d %s", resp.StatusCode, resp.body)
	}

	clDialCoAP(t, a, "dev-1")
	doc = b.get(views.ClientURL("coap", "dev-1")).doc(t)
	if got := vt.Text(t, doc, "client-subscribe-unsupported"); !strings.Contains(got, "not supported") {
		t.Errorf("CoAP: %q", got)
	}
	if vt.Has(doc, "client-subscribe-form") {
		t.Error("CoAP client has the add form")
	}
	// Posting anyway is refused with the API's message, nothing changes.
	resp = b.do("POST", views.ClientURL("coap", "dev-1")+"/subscriptions",
		url.Values{views.CSRFFieldName: {csrf}, "topic": {"t"}}, uiclHTMX...)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(resp.body, "unsupported") {
		t.Errorf("CoAP subscribe: %d %s", resp.StatusCode, resp.body)
	}
}

// TestUIClientsDefaultGateway: /clients picks the first gateway with clients, else the
// first loaded one.
func TestUIClientsDefaultGateway(t *testing.T) {
	for _, tc := range []struct {
		name string
		gws  []views.ClientsGateway
		want string
	}{
		{"first with clients", []views.ClientsGateway{{Name: "a", Loaded: true}, {Name: "b", Loaded: true, Clients: 1}}, "b"},
		{"first loaded", []views.ClientsGateway{{Name: "a"}, {Name: "b", Loaded: true}}, "b"},
		{"first", []views.ClientsGateway{{Name: "a"}, {Name: "b"}}, "a"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := uiclDefaultGateway(tc.gws); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUIClientsRefreshFollowsClients: the table fragment the page polls shows a client
// that connected after the page was loaded.
func TestUIClientsRefreshFollowsClients(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	b := newUIBrowser(t, a.srv)
	b.login("admin", testAdminPassword)
	doc := b.get("/gateways/stomp/clients?q=car").doc(t)
	refresh := vt.One(t, doc, "clients-table-region").AttrOr("hx-get", "")
	if refresh != "/gateways/stomp/clients?q=car" {
		t.Fatalf("refresh URL %q", refresh)
	}
	clDialStomp(t, a, "carol")
	clDialStomp(t, a, "dave")
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		doc := b.get(refresh, uiclHTMX...).doc(t)
		if n := vt.Find(doc, "clients-table").Find("tbody tr").Length(); n != 1 {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	})
}
