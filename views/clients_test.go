package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/xgate/xgate/views"
	vt "github.com/xgate/xgate/views/viewstest"
)

func uiclList() views.ClientsList {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	return views.ClientsList{
		Gateway: "stomp", Loaded: true, Query: "al", Page: 1, PageSize: views.ClientsPageSize, Count: 2,
		Gateways: []views.ClientsGateway{{Name: "coap", Loaded: true}, {Name: "lwm2m"},
			{Name: "stomp", Loaded: true, Clients: 2}},
		Rows: []views.ClientRow{
			{ClientID: "dev/1 x", Username: "alice", Peer: "127.0.0.1:5000", ProtoName: "STOMP", ProtoVer: "1.2",
				ConnectedAt: at, Subscriptions: 3, MessagesIn: 4, MessagesOut: 5},
			{ClientID: "c2", ProtoName: "STOMP", ProtoVer: "1.2", ConnectedAt: at},
		},
		UpdatedAt: at, Refresh: 3 * time.Second,
	}
}

func TestClientsPage(t *testing.T) {
	p := views.Page{Title: "Clients of stomp", Active: views.NavClients, User: "admin"}
	doc := vt.Render(t, views.ClientsPage(p, uiclList()), "tok")

	if _, ok := vt.One(t, doc, "nav-clients").Attr("aria-current"); !ok {
		t.Error("Clients is not the current navigation entry")
	}
	// The gateway select lists every gateway, the shown one selected, with its clients.
	opts := vt.Find(doc, "clients-gateway").Find("option")
	var labels []string
	opts.Each(func(_ int, o *goquery.Selection) { labels = append(labels, o.Text()) })
	if got := strings.Join(labels, "|"); got != "coap (0 clients)|lwm2m (not loaded)|stomp (2 clients)" {
		t.Errorf("options %q", got)
	}
	if _, ok := vt.One(t, doc, "clients-gateway-option-stomp").Attr("selected"); !ok {
		t.Error("stomp not selected")
	}
	gwForm := vt.One(t, doc, "clients-gateway-form")
	if gwForm.AttrOr("action", "") != "/clients" || gwForm.AttrOr("method", "") != "get" {
		t.Errorf("gateway form %v", gwForm.Nodes[0].Attr)
	}

	// The search: a GET form that works without scripts, and with htmx swaps the table.
	search := vt.One(t, doc, "clients-search-form")
	for attr, want := range map[string]string{"action": "/gateways/stomp/clients", "method": "get",
		"hx-get": "/gateways/stomp/clients", "hx-target": "#clients-table", "hx-swap": "outerHTML",
		"hx-push-url": "true"} {
		if got := search.AttrOr(attr, ""); got != want {
			t.Errorf("search form %s=%q, want %q", attr, got, want)
		}
	}
	if tr := search.AttrOr("hx-trigger", ""); !strings.Contains(tr, "input changed delay:") {
		t.Errorf("search trigger %q: no delayed trigger on typing", tr)
	}
	if search.Find(`[role="search"]`).Length() != 1 {
		t.Error("no search landmark")
	}
	if got := vt.One(t, doc, "clients-search").AttrOr("value", ""); got != "al" {
		t.Errorf("search value %q", got)
	}
	uiclLabelled(t, doc)

	// The table refreshes itself with the same search and page.
	region := vt.One(t, doc, "clients-table-region")
	if region.AttrOr("id", "") != "clients-table" || region.AttrOr("hx-get", "") != "/gateways/stomp/clients?q=al" ||
		region.AttrOr("hx-trigger", "") != "every 3000ms" || region.AttrOr("hx-swap", "") != "outerHTML" {
		t.Errorf("table region %v", region.Nodes[0].Attr)
	}
	if got := vt.Text(t, doc, "clients-count"); got != "2 clients match" {
		t.Errorf("count %q", got)
	}
	row := vt.One(t, doc, "client-row-dev/1 x")
	for id, want := range map[string]string{
		"client-username-dev/1 x": "alice", "client-peer-dev/1 x": "127.0.0.1:5000",
		"client-protocol-dev/1 x": "STOMP 1.2", "client-connected-at-dev/1 x": "2025-03-04 05:06:07",
		"client-subscriptions-dev/1 x": "3", "client-messages-in-dev/1 x": "4", "client-messages-out-dev/1 x": "5",
	} {
		if got := vt.Text(t, row, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	link := vt.One(t, row, "client-link-dev/1 x")
	if href := link.AttrOr("href", ""); href != "/gateways/stomp/clients/dev%2F1%20x" {
		t.Errorf("client link %q", href)
	}
	// A stable id: htmx gives the focus back to it after each refresh.
	if id := link.AttrOr("id", ""); id != "client-link-dev%2F1%20x" {
		t.Errorf("client link id %q", id)
	}
	if got := vt.Text(t, doc, "client-username-c2"); got != "–" {
		t.Errorf("empty username shown as %q", got)
	}
	if vt.Has(doc, "clients-pager") {
		t.Error("pager shown for one page")
	}
}

func TestClientsTablePaging(t *testing.T) {
	m := uiclList()
	m.Query, m.Count, m.PageSize, m.Page = "", 5, 2, 2
	doc := vt.Render(t, views.ClientsTable(m), "")
	if got := vt.Text(t, doc, "clients-page-info"); got != "Page 2 of 3" {
		t.Errorf("page info %q", got)
	}
	prev, next := vt.One(t, doc, "clients-prev"), vt.One(t, doc, "clients-next")
	if prev.AttrOr("href", "") != "/gateways/stomp/clients?limit=2" || prev.AttrOr("hx-get", "") != prev.AttrOr("href", "") {
		t.Errorf("previous %v", prev.Nodes[0].Attr)
	}
	if next.AttrOr("href", "") != "/gateways/stomp/clients?limit=2&page=3" || next.AttrOr("hx-push-url", "") != "true" {
		t.Errorf("next %v", next.Nodes[0].Attr)
	}
	if got := vt.One(t, doc, "clients-table-region").AttrOr("hx-get", ""); got != "/gateways/stomp/clients?limit=2&page=2" {
		t.Errorf("refresh URL %q", got)
	}
	if got := vt.Text(t, doc, "clients-count"); got != "5 clients connected" {
		t.Errorf("count %q", got)
	}

	m.Page = 3
	doc = vt.Render(t, views.ClientsTable(m), "")
	if _, ok := vt.One(t, doc, "clients-next").Attr("href"); ok {
		t.Error("next is a link on the last page")
	}
}

func TestClientsTableEmpty(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*views.ClientsList)
		testID string
		text   string
	}{
		{"no clients", func(m *views.ClientsList) { m.Query = "" }, "clients-empty", "No client is connected to stomp."},
		{"no match", func(m *views.ClientsList) {}, "clients-empty", "containing “al”"},
		{"not loaded", func(m *views.ClientsList) { m.Loaded = false }, "clients-not-loaded", "is not loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := uiclList()
			m.Rows, m.Count = nil, 0
			tc.edit(&m)
			doc := vt.Render(t, views.ClientsTable(m), "")
			if got := vt.Text(t, doc, tc.testID); !strings.Contains(got, tc.text) {
				t.Errorf("%q, want it to contain %q", got, tc.text)
			}
			if vt.Has(doc, "clients-table") {
				t.Error("table shown without rows")
			}
		})
	}
}

func uiclDetail() views.ClientDetail {
	return views.ClientDetail{
		Gateway: "stomp",
		Client: views.ClientRow{ClientID: "a/b", Username: "alice", Peer: "[::1]:61000", ProtoName: "STOMP",
			ProtoVer: "1.2", ConnectedAt: time.Now(), Subscriptions: 1, MessagesIn: 7, MessagesOut: 8},
		Mountpoint: "mp/alice/", Keepalive: 10, CleanStart: true, Dropped: 2,
		Attrs: []views.ClientAttr{{Key: "role", Value: "sensor"}},
		Subs: views.ClientSubs{Gateway: "stomp", ClientID: "a/b", Supported: true, NeedsSubID: true,
			Subscriptions: []views.ClientSub{{Topic: "mp/alice/t/1", Filter: "t/1", QoS: 1}}},
	}
}

func TestClientPage(t *testing.T) {
	p := views.Page{Title: "Client a/b", Active: views.NavClients, User: "admin"}
	doc := vt.Render(t, views.ClientPage(p, uiclDetail()), "tok")

	if got := vt.One(t, doc, "client-back").AttrOr("href", ""); got != "/gateways/stomp/clients" {
		t.Errorf("back link %q", got)
	}
	for id, want := range map[string]string{
		"client-title": "a/b", "client-info-username": "alice", "client-info-peer": "[::1]:61000",
		"client-info-protocol": "STOMP 1.2", "client-info-keepalive": "10 s", "client-info-clean-start": "yes",
		"client-info-mountpoint": "mp/alice/", "client-info-subscriptions": "1", "client-info-messages-in": "7",
		"client-info-messages-out": "8", "client-info-dropped": "2", "client-info-attr-role": "sensor",
	} {
		if got := vt.Text(t, doc, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}

	// Each subscription has a remove form posting the client's own filter.
	sub := vt.One(t, doc, "client-sub-t/1")
	if got := vt.Text(t, sub, "client-sub-topic-t/1"); got != "mp/alice/t/1" {
		t.Errorf("topic %q", got)
	}
	remove := vt.One(t, sub, "client-sub-remove-t/1")
	form := remove.Closest("form")
	if form.AttrOr("action", "") != "/gateways/stomp/clients/a%2Fb/unsubscribe" || form.AttrOr("hx-post", "") != form.AttrOr("action", "") ||
		form.AttrOr("hx-target", "") != "#client-subscriptions" {
		t.Errorf("remove form %v", form.Nodes[0].Attr)
	}
	if form.Find(`input[name="topic"]`).AttrOr("value", "") != "t/1" || form.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Error("remove form lacks the topic or the CSRF token")
	}
	if label := remove.AttrOr("aria-label", ""); label != "Remove subscription mp/alice/t/1" {
		t.Errorf("remove button label %q", label)
	}

	add := vt.One(t, doc, "client-subscribe-form")
	if add.AttrOr("action", "") != "/gateways/stomp/clients/a%2Fb/subscriptions" || add.AttrOr("method", "") != "post" ||
		add.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Errorf("add form %v", add.Nodes[0].Attr)
	}
	for _, id := range []string{"client-subscribe-topic", "client-subscribe-qos", "client-subscribe-subid"} {
		vt.One(t, add, id)
	}
	uiclLabelled(t, doc)

	kick := vt.One(t, doc, "client-kick-form")
	if kick.AttrOr("action", "") != "/gateways/stomp/clients/a%2Fb/kick" || kick.AttrOr("method", "") != "post" ||
		!strings.Contains(kick.AttrOr("hx-confirm", ""), "Kick client a/b?") || kick.Find(`input[name="_csrf"]`).AttrOr("value", "") != "tok" {
		t.Errorf("kick form %v", kick.Nodes[0].Attr)
	}
}

func TestClientSubscriptionsErrors(t *testing.T) {
	s := uiclDetail().Subs
	s.Form = views.SubscribeForm{Topic: "a/#/b", QoS: "2", SubID: "9",
		Errors: map[string]string{views.SubscribeFieldTopic: "not a valid topic filter"}}
	doc := vt.Render(t, views.ClientSubscriptions(s), "tok")
	topic := vt.One(t, doc, "client-subscribe-topic")
	if topic.AttrOr("value", "") != "a/#/b" || topic.AttrOr("aria-invalid", "") != "true" {
		t.Errorf("topic input %v", topic.Nodes[0].Attr)
	}
	errEl := vt.One(t, doc, "client-subscribe-topic-error")
	if errEl.Text() != "not a valid topic filter" || !strings.Contains(topic.AttrOr("aria-describedby", ""), errEl.AttrOr("id", "-")) {
		t.Errorf("error %q not described by the input (%q)", errEl.Text(), topic.AttrOr("aria-describedby", ""))
	}
	if got := vt.One(t, doc, "client-subscribe-qos").Find("option[selected]").AttrOr("value", ""); got != "2" {
		t.Errorf("qos kept as %q", got)
	}
	if got := vt.One(t, doc, "client-subscribe-subid").AttrOr("value", ""); got != "9" {
		t.Errorf("subid kept as %q", got)
	}
	if _, ok := vt.One(t, doc, "client-subscribe-subid").Attr("aria-invalid"); ok {
		t.Error("subid marked invalid")
	}
	for _, id := range []string{"client-subscribe-subid-error", "client-subscribe-error", "client-subscriptions-notice"} {
		if vt.Has(doc, id) {
			t.Errorf("%s shown", id)
		}
	}

	s.Form = views.SubscribeForm{Error: "the session did not answer in time"}
	s.Notice = ""
	doc = vt.Render(t, views.ClientSubscriptions(s), "tok")
	if got := vt.Text(t, doc, "client-subscribe-error"); got != "the session did not answer in time" {
		t.Errorf("form error %q", got)
	}
}

func TestClientPageUnsupportedAndPlain(t *testing.T) {
	d := uiclDetail()
	d.Gateway, d.Subs.Gateway, d.Subs.Supported, d.Subs.NeedsSubID, d.Subs.Subscriptions = "coap", "coap", false, false, nil
	doc := vt.Render(t, views.ClientPage(views.Page{User: "admin"}, d), "tok")
	if got := vt.Text(t, doc, "client-subscribe-unsupported"); !strings.Contains(got, "not supported") {
		t.Errorf("unsupported notice %q", got)
	}
	if vt.Has(doc, "client-subscribe-form") {
		t.Error("add form shown for a gateway that cannot subscribe its clients")
	}
	vt.One(t, doc, "client-subscriptions-empty")

	// Protocols without subscription ids get no subid field.
	d.Subs.Supported = true
	doc = vt.Render(t, views.ClientPage(views.Page{User: "admin"}, d), "tok")
	vt.One(t, doc, "client-subscribe-form")
	if vt.Has(doc, "client-subscribe-subid") {
		t.Error("subid field shown for a protocol without subscription ids")
	}
}

// uiclLabelled checks that every visible input and select has a label.
func uiclLabelled(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("type", "") == "hidden" {
			return
		}
		id := s.AttrOr("id", "")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("input %v has no label", s.Nodes[0].Attr)
		}
	})
}
