package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/gateway/gatewaytest"
	"github.com/xgate/xgate/protocols/mqttsn"
	"github.com/xgate/xgate/protocols/stomp"
)

func TestClientRoutesNeedToken(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v5/gateways/stomp/clients", ""},
		{"GET", "/api/v5/gateways/stomp/clients/c1", ""},
		{"DELETE", "/api/v5/gateways/stomp/clients/c1", ""},
		{"GET", "/api/v5/gateways/stomp/clients/c1/subscriptions", ""},
		{"POST", "/api/v5/gateways/stomp/clients/c1/subscriptions", `{"topic":"t"}`},
		{"DELETE", "/api/v5/gateways/stomp/clients/c1/subscriptions/t", ""},
		{"POST", "/api/v5/gateways/coap/clients/c1/request", `{"method":"get"}`},
		{"GET", "/api/v5/gateways/stomp/stats", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body := a.doWith(tc.method, tc.path, tc.body, "")
			var e APIError
			if err := json.Unmarshal(body, &e); err != nil || status != 401 || e.Code == "" {
				t.Fatalf("got %d %s, want 401 with an error body", status, body)
			}
		})
	}
}

func TestClientsList(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	alice := clDialStomp(t, a, "alice")
	clDialStomp(t, a, "bob")
	aliceID, bobID := clStompID(t, a, "alice"), clStompID(t, a, "bob")

	var page clPage
	a.clGetJSON("/api/v5/gateways/stomp/clients", 200, &page)
	if page.Meta != (clMeta{Page: 1, Limit: 100, Count: 2, HasNext: false}) || len(page.Data) != 2 {
		t.Fatalf("got %+v", page)
	}
	got := page.Data[0]
	want := map[string]any{
		"node": "xgate@test", "clientid": aliceID, "username": "alice", "mountpoint": nil,
		"proto_name": "STOMP", "proto_ver": "1.2", "ip_address": "127.0.0.1",
		"port": float64(alice.c.LocalAddr().(*net.TCPAddr).Port), "connected": true, "keepalive": float64(0),
		"clean_start": true, "subscriptions_cnt": float64(0), "recv_msg": float64(0), "send_msg": float64(0),
		"mqueue_dropped": float64(0), "is_bridge": false, "disconnected_at": nil, "inflight_cnt": nil,
		"mqueue_len": nil, "recv_oct": nil, "heap_size": nil, "client_attrs": map[string]any{},
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || fmt.Sprint(g) != fmt.Sprint(v) {
			t.Errorf("%s: got %v (present %v), want %v", k, g, ok, v)
		}
	}
	for _, k := range []string{"connected_at", "created_at"} {
		if _, err := time.Parse(time.RFC3339, fmt.Sprint(got[k])); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if page.Data[1]["clientid"] != bobID {
		t.Fatalf("not ordered by connected_at: %v", page.Data)
	}

	for _, tc := range []struct {
		name, query string
		want        []string // usernames in order
		meta        clMeta
	}{
		{"all", "", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"username", "username=alice", []string{"alice"}, clMeta{1, 100, 1, false}},
		{"clientid", "clientid=" + bobID, []string{"bob"}, clMeta{1, 100, 1, false}},
		{"like_username", "like_username=li", []string{"alice"}, clMeta{1, 100, 1, false}},
		{"like_clientid", "like_clientid=" + aliceID[2:10], []string{"alice"}, clMeta{1, 100, 1, false}},
		{"ip_address", "ip_address=127.0.0.1", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"other ip_address", "ip_address=10.0.0.1", nil, clMeta{1, 100, 0, false}},
		{"proto_ver", "proto_ver=1.2", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"other proto_ver", "proto_ver=1.0", nil, clMeta{1, 100, 0, false}},
		{"conn_state connected", "conn_state=connected", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"conn_state idle", "conn_state=idle", nil, clMeta{1, 100, 0, false}},
		{"clean_start true", "clean_start=true", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"clean_start false", "clean_start=false", nil, clMeta{1, 100, 0, false}},
		{"node", "node=xgate@test", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"other node", "node=elsewhere", nil, clMeta{1, 100, 0, false}},
		{"gte_connected_at epoch ms", "gte_connected_at=0", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"lte_connected_at epoch ms", "lte_connected_at=1000", nil, clMeta{1, 100, 0, false}},
		{"gte_connected_at RFC 3339", "gte_connected_at=2999-01-01T00:00:00Z", nil, clMeta{1, 100, 0, false}},
		{"lte_connected_at unencoded offset", "lte_connected_at=2999-01-01T00:00:00+01:00", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"gte_created_at", "gte_created_at=" + url.QueryEscape("2000-01-01T00:00:00+01:00"), []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"lte_created_at", "lte_created_at=2000-01-01T00:00:00.5Z", nil, clMeta{1, 100, 0, false}},
		{"endpoint_name", "endpoint_name=ep", nil, clMeta{1, 100, 0, false}},
		{"gte_lifetime", "gte_lifetime=1", nil, clMeta{1, 100, 0, false}},
		{"unknown parameters are ignored", "foo=bar", []string{"alice", "bob"}, clMeta{1, 100, 2, false}},
		{"first page", "limit=1", []string{"alice"}, clMeta{1, 1, 2, true}},
		{"second page", "limit=1&page=2", []string{"bob"}, clMeta{2, 1, 2, false}},
		{"past the end", "limit=1&page=3", nil, clMeta{3, 1, 2, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page clPage
			a.clGetJSON("/api/v5/gateways/stomp/clients?"+tc.query, 200, &page)
			var names []string
			for _, c := range page.Data {
				names = append(names, fmt.Sprint(c["username"]))
			}
			if !slices.Equal(names, tc.want) || page.Meta != tc.meta {
				t.Fatalf("got %v %+v, want %v %+v", names, page.Meta, tc.want, tc.meta)
			}
		})
	}

	// A connected_at as listed finds its client at both bounds (milliseconds).
	for _, c := range page.Data {
		at := url.QueryEscape(fmt.Sprint(c["connected_at"]))
		var found clPage
		a.clGetJSON("/api/v5/gateways/stomp/clients?gte_connected_at="+at+"&lte_connected_at="+at, 200, &found)
		if !slices.ContainsFunc(found.Data, func(f map[string]any) bool { return f["clientid"] == c["clientid"] }) {
			t.Fatalf("connected_at %s does not find %s: %v", at, c["clientid"], found.Data)
		}
	}

	for _, tc := range []struct{ name, query, mention string }{
		{"page 0", "page=0", "page"},
		{"page not a number", "page=first", "page"},
		{"limit 0", "limit=0", "limit"},
		{"limit too large", "limit=10001", "limit"},
		{"ip_address", "ip_address=localhost", "ip_address"},
		{"conn_state", "conn_state=gone", "conn_state"},
		{"clean_start", "clean_start=maybe", "clean_start"},
		{"gte_connected_at", "gte_connected_at=yesterday", "gte_connected_at"},
		{"lte_connected_at", "lte_connected_at=2024-13-01T00:00:00Z", "lte_connected_at"},
		{"gte_created_at", "gte_created_at=1.5", "gte_created_at"},
		{"lte_created_at", "lte_created_at=2024-01-01", "lte_created_at"},
		{"gte_lifetime", "gte_lifetime=long", "gte_lifetime"},
	} {
		t.Run("bad "+tc.name, func(t *testing.T) {
			status, body := a.do("GET", "/api/v5/gateways/stomp/clients?"+tc.query, "")
			a.wantError(status, body, 400, "INVALID_PARAMETER")
			if !strings.Contains(string(body), tc.mention) {
				t.Fatalf("%s does not name %s", body, tc.mention)
			}
		})
	}

	status, body := a.do("GET", "/api/v5/gateways/nope/clients", "")
	a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
}

// TestClientByEncodedID: clientids with "/", "+" and spaces are addressed URL-encoded
// (EMQX's t_clients_api_complex_id); MQTT-SN reports clean_start from CleanSession.
func TestClientByEncodedID(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	const id = "dev/1 +x"
	sn := clDialSN(t, a, id, false)
	path := "/api/v5/gateways/mqttsn/clients/" + url.PathEscape(id)
	if !strings.Contains(path, "%2F") {
		t.Fatalf("%s: the slash is not encoded", path)
	}

	for _, p := range []string{path, "/api/v5/gateways/mqttsn/clients/dev%2F1%20+x"} {
		var got map[string]any
		a.clGetJSON(p, 200, &got)
		if got["clientid"] != id || got["clean_start"] != false || got["proto_name"] != "MQTT-SN" ||
			got["proto_ver"] != "1.2" || got["keepalive"] != float64(60) {
			t.Fatalf("GET %s: %v", p, got)
		}
	}
	var page clPage
	a.clGetJSON("/api/v5/gateways/mqttsn/clients?clean_start=false&clientid="+url.QueryEscape(id), 200, &page)
	if page.Meta.Count != 1 {
		t.Fatalf("filtered list %+v", page)
	}

	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown client", "GET", "/api/v5/gateways/mqttsn/clients/nobody", 404, "RESOURCE_NOT_FOUND"},
		{"kick unknown client", "DELETE", "/api/v5/gateways/mqttsn/clients/nobody", 404, "RESOURCE_NOT_FOUND"},
		{"unknown gateway", "GET", "/api/v5/gateways/nope/clients/x", 404, "RESOURCE_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do(tc.method, tc.path, "")
			a.wantError(status, body, tc.status, tc.code)
		})
	}

	if status, body := a.do("DELETE", path, ""); status != 204 {
		t.Fatalf("kick: %d %s", status, body)
	}
	if p := sn.recv(); p.Type != mqttsn.Disconnect {
		t.Fatalf("kicked client got %s", p.Type)
	}
	status, body := a.do("GET", path, "")
	a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
	status, body = a.do("DELETE", path, "")
	a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
}

// TestKickClosesSTOMPConnection: the kicked client gets ERROR "Kicked out" and its
// connection closes.
func TestKickClosesSTOMPConnection(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	alice := clDialStomp(t, a, "alice")
	id := clStompID(t, a, "alice")
	if status, body := a.do("DELETE", "/api/v5/gateways/stomp/clients/"+id, ""); status != 204 || len(body) != 0 {
		t.Fatalf("kick: %d %s", status, body)
	}
	if e := alice.expect("ERROR"); e.Value("message") != "Kicked out" {
		t.Fatalf("ERROR %v", e.Headers)
	}
	alice.expectClosed()
	var page clPage
	a.clGetJSON("/api/v5/gateways/stomp/clients", 200, &page)
	if page.Meta.Count != 0 {
		t.Fatalf("still listed: %+v", page)
	}
}

func TestClientMessageCounters(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	alice := clDialStomp(t, a, "alice")
	path := "/api/v5/gateways/stomp/clients/" + clStompID(t, a, "alice")
	alice.send("SUBSCRIBE\nid:1\ndestination:c/1\nreceipt:s\n\n\x00")
	alice.expect("RECEIPT")
	for i := range 2 {
		alice.send(fmt.Sprintf("SEND\ndestination:c/1\n\nm%d\x00", i))
		alice.expect("MESSAGE")
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		var got map[string]any
		a.clGetJSON(path, 200, &got)
		if got["recv_msg"] != float64(2) || got["send_msg"] != float64(2) || got["subscriptions_cnt"] != float64(1) ||
			got["mqueue_dropped"] != float64(0) {
			return fmt.Errorf("counters %v %v %v %v", got["recv_msg"], got["send_msg"], got["subscriptions_cnt"], got["mqueue_dropped"])
		}
		return nil
	})
}

// TestSTOMPSubscriptionsThroughAPI: a subscription added through the API is the STOMP
// session's own (sub_props.subid is its id), receives MQTT publishes, is listed mounted,
// and is removed by its unmounted topic.
func TestSTOMPSubscriptionsThroughAPI(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	a.clEditGateway("stomp", func(c *gateway.Config) { c.Mountpoint = "mp/${username}/" })
	alice := clDialStomp(t, a, "alice")
	base := "/api/v5/gateways/stomp/clients/" + clStompID(t, a, "alice") + "/subscriptions"

	status, body := a.do("POST", base, `{"topic":"t/a","qos":1,"sub_props":{"subid":"1001"}}`)
	if status != 201 || string(body) != `{"topic":"mp/alice/t/a","qos":1,"nl":0,"rap":0,"rh":0,"sub_props":{"subid":"1001"}}` {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	var subs []map[string]any
	a.clGetJSON(base, 200, &subs)
	if len(subs) != 1 || subs[0]["topic"] != "mp/alice/t/a" || subs[0]["qos"] != float64(1) {
		t.Fatalf("subscriptions %v", subs)
	}
	var client map[string]any
	a.clGetJSON(strings.TrimSuffix(base, "/subscriptions"), 200, &client)
	if client["mountpoint"] != "mp/alice/" || client["subscriptions_cnt"] != float64(1) {
		t.Fatalf("client %v", client)
	}

	gatewaytest.MQTTPublish(t, gatewaytest.MQTTClient(t, a.mqttAddr, "pub"), "mp/alice/t/a", 1, "from mqtt")
	m := alice.expect("MESSAGE")
	if m.Value("subscription") != "1001" || m.Value("destination") != "t/a" || string(m.Body) != "from mqtt" {
		t.Fatalf("MESSAGE %v %q", m.Headers, m.Body)
	}

	for _, tc := range []struct {
		name, body, message string
	}{
		{"no topic", `{"qos":1}`, "Miss topic property"},
		{"empty topic", `{"topic":""}`, "Miss topic property"},
		{"no subid", `{"topic":"t/b"}`, "sub_props.subid is required to subscribe a STOMP client"},
		{"subid in use", `{"topic":"t/b","sub_props":{"subid":"1001"}}`, "Subscription id 1001 is in used"},
		{"topic in use", `{"topic":"t/a","sub_props":{"subid":"1002"}}`, "Topic t/a already in subscribed"},
		{"bad qos", `{"topic":"t/b","qos":3,"sub_props":{"subid":"2"}}`, "qos: must be 0, 1 or 2"},
		{"bad nl", `{"topic":"t/b","nl":2,"sub_props":{"subid":"2"}}`, "nl: must be 0 or 1"},
		{"bad rap", `{"topic":"t/b","rap":-1,"sub_props":{"subid":"2"}}`, "rap: must be 0 or 1"},
		{"bad rh", `{"topic":"t/b","rh":3,"sub_props":{"subid":"2"}}`, "rh: must be 0, 1 or 2"},
		{"bad filter", `{"topic":"a/#/b","sub_props":{"subid":"2"}}`, `topic: "a/#/b" is not a valid topic filter`},
		{"unknown field", `{"topic":"t/b","bogus":1}`, `unknown field "bogus"`},
		{"unknown sub_props field", `{"topic":"t/b","sub_props":{"subid":"2","x":1}}`, `unknown field "x"`},
		{"wrong type", `{"topic":"t/b","qos":"1"}`, "qos: must be int, not string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do("POST", base, tc.body)
			a.wantError(status, body, 400, "BAD_REQUEST")
			var e APIError
			json.Unmarshal(body, &e)
			if e.Message != tc.message {
				t.Fatalf("message %q, want %q", e.Message, tc.message)
			}
		})
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"subscribe unknown client", "POST", "/api/v5/gateways/stomp/clients/nobody/subscriptions", `{"topic":"t"}`, 404, "RESOURCE_NOT_FOUND"},
		{"list unknown client", "GET", "/api/v5/gateways/stomp/clients/nobody/subscriptions", "", 404, "RESOURCE_NOT_FOUND"},
		{"unsubscribe unknown client", "DELETE", "/api/v5/gateways/stomp/clients/nobody/subscriptions/t", "", 404, "RESOURCE_NOT_FOUND"},
		{"unsubscribe mounted topic", "DELETE", base + "/" + url.PathEscape("mp/alice/t/a"), "", 404, "RESOURCE_NOT_FOUND"},
		{"unsubscribe without topic", "DELETE", base + "/", "", 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do(tc.method, tc.path, tc.body)
			a.wantError(status, body, tc.status, tc.code)
		})
	}

	if status, body := a.do("DELETE", base+"/"+url.PathEscape("t/a"), ""); status != 204 {
		t.Fatalf("unsubscribe: %d %s", status, body)
	}
	a.clGetJSON(base, 200, &subs)
	if len(subs) != 0 {
		t.Fatalf("subscriptions after DELETE: %v", subs)
	}
	status, body = a.do("DELETE", base+"/"+url.PathEscape("t/a"), "")
	a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
	// The id is free again for the client itself.
	alice.send("SUBSCRIBE\nid:1001\ndestination:t/a\nreceipt:r\n\n\x00")
	alice.expect("RECEIPT")

	// Authorization applies, but a denial is the operator's answer and the client stays.
	authz := db.DefaultAuthzConfig()
	authz.NoMatch, authz.DenyAction = "deny", "disconnect"
	if err := a.access.ApplyAuthz(authz); err != nil {
		t.Fatal(err)
	}
	status, body = a.do("POST", base, `{"topic":"t/z","sub_props":{"subid":"z"}}`)
	a.wantError(status, body, 400, "BAD_REQUEST")
	if want := "topic t/z: client " + clStompID(t, a, "alice") + " is not authorized to subscribe"; !strings.Contains(string(body), want) {
		t.Fatalf("got %s, want %q", body, want)
	}
	alice.send("UNSUBSCRIBE\nid:none\nreceipt:still-here\n\n\x00")
	alice.expect("RECEIPT")
}

// TestMQTTSNSubscriptionThroughAPI: the session REGISTERs the topic of the first message,
// then delivers it; the subscription is listed and removed like any other.
func TestMQTTSNSubscriptionThroughAPI(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	sn := clDialSN(t, a, "sn-1", true)
	base := "/api/v5/gateways/mqttsn/clients/sn-1/subscriptions"
	status, body := a.do("POST", base, `{"topic":"sn/t"}`)
	if status != 201 || string(body) != `{"topic":"sn/t","qos":0,"nl":0,"rap":0,"rh":0}` {
		t.Fatalf("subscribe: %d %s", status, body)
	}

	gatewaytest.MQTTPublish(t, gatewaytest.MQTTClient(t, a.mqttAddr, "pub"), "sn/t", 0, "hi")
	reg := sn.recv()
	if reg.Type != mqttsn.Register || reg.TopicName != "sn/t" {
		t.Fatalf("got %+v, want REGISTER sn/t", reg)
	}
	sn.send(&mqttsn.Packet{Type: mqttsn.Regack, TopicID: reg.TopicID, MsgID: reg.MsgID, ReturnCode: mqttsn.Accepted})
	pub := sn.recv()
	if pub.Type != mqttsn.Publish || pub.TopicID != reg.TopicID || string(pub.Data) != "hi" {
		t.Fatalf("got %+v, want PUBLISH hi on topic id %d", pub, reg.TopicID)
	}

	var subs []map[string]any
	a.clGetJSON(base, 200, &subs)
	if len(subs) != 1 || subs[0]["topic"] != "sn/t" || subs[0]["qos"] != float64(0) {
		t.Fatalf("subscriptions %v", subs)
	}
	if status, body := a.do("DELETE", base+"/sn%2Ft", ""); status != 204 {
		t.Fatalf("unsubscribe: %d %s", status, body)
	}
	a.clGetJSON(base, 200, &subs)
	if len(subs) != 0 {
		t.Fatalf("subscriptions after DELETE: %v", subs)
	}
	status, body = a.do("DELETE", base+"/sn%2Ft", "")
	a.wantError(status, body, 404, "RESOURCE_NOT_FOUND")
}

// TestDroppedMessagesCounted: messages the session cannot queue (its queue holds one while
// the client does not acknowledge the REGISTER) are the client's mqueue_dropped.
func TestDroppedMessagesCounted(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	a.clEditGateway("mqttsn", func(c *gateway.Config) { c.Settings = json.RawMessage(`{"max_mqueue_len":1}`) })
	sn := clDialSN(t, a, "slow", true)
	if status, body := a.do("POST", "/api/v5/gateways/mqttsn/clients/slow/subscriptions", `{"topic":"d/1"}`); status != 201 {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	pub := gatewaytest.MQTTClient(t, a.mqttAddr, "pub")
	gatewaytest.MQTTPublish(t, pub, "d/1", 0, "queued")
	if reg := sn.recv(); reg.Type != mqttsn.Register {
		t.Fatalf("got %s, want REGISTER", reg.Type)
	}
	gatewaytest.MQTTPublish(t, pub, "d/1", 0, "dropped 1")
	gatewaytest.MQTTPublish(t, pub, "d/1", 0, "dropped 2")
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		var got map[string]any
		a.clGetJSON("/api/v5/gateways/mqttsn/clients/slow", 200, &got)
		if got["mqueue_dropped"] != float64(2) {
			return fmt.Errorf("mqueue_dropped %v", got["mqueue_dropped"])
		}
		return nil
	})
}

func TestCoAPSubscriptionsUnsupported(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	clDialCoAP(t, a, "dev-1")
	base := "/api/v5/gateways/coap/clients/dev-1/subscriptions"
	status, body := a.do("POST", base, `{"topic":"t"}`)
	a.wantError(status, body, 400, "BAD_REQUEST")
	if !strings.HasSuffix(string(body), `unsupported"}`) {
		t.Fatalf("message: %s", body)
	}
	status, body = a.do("DELETE", base+"/t", "")
	a.wantError(status, body, 400, "BAD_REQUEST")
	var subs []map[string]any
	a.clGetJSON(base, 200, &subs)
	if len(subs) != 0 {
		t.Fatalf("subscriptions %v", subs)
	}
}

// TestDeviceRequest: the operator's request reaches a real go-coap client acting as the
// device, and its answer comes back as EMQX's {code, content_type, payload}.
func TestDeviceRequest(t *testing.T) {
	t.Parallel()
	a := newTestAPI(t)
	router := mux.NewRouter()
	router.Handle("/3/0", mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		body, _ := r.ReadBody()
		reply, _ := json.Marshal(map[string]string{"got": r.Code().String(), "body": string(body)})
		w.SetResponse(codes.Content, message.AppJSON, bytes.NewReader(reply))
	}))
	router.Handle("/bin", mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		body, _ := r.ReadBody()
		w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(append(body, 0xff)))
	}))
	clDialCoAP(t, a, "dev-1", options.WithMux(router))
	silent := clSilentCoAP(t, a, "mute")
	defer silent.Close()
	alice := clStompID(t, a, clDialStomp(t, a, "alice").login)
	path := "/api/v5/gateways/coap/clients/dev-1/request"

	for _, tc := range []struct {
		name, body, want string
	}{
		{"put text", `{"method":"put","path":"/3/0","content_type":"text/plain","payload":"v","timeout":"5s"}`,
			`{"code":"2.05","content_type":"application/json","payload":"{\"body\":\"v\",\"got\":\"PUT\"}"}`},
		{"defaults: get, no payload", `{"path":"3/0"}`,
			`{"code":"2.05","content_type":"application/json","payload":"{\"body\":\"\",\"got\":\"GET\"}"}`},
		{"octet-stream is base64 both ways",
			`{"method":"post","path":"/bin","content_type":"application/octet-stream","payload":"` + base64.StdEncoding.EncodeToString([]byte{0, 1}) + `","timeout":5000}`,
			`{"code":"2.04","content_type":"application/octet-stream","payload":"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff}) + `"}`},
		{"EMQX token accepted", `{"method":"GET","path":"/3/0","token":"abc"}`,
			`{"code":"2.05","content_type":"application/json","payload":"{\"body\":\"\",\"got\":\"GET\"}"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do("POST", path, tc.body)
			if status != 200 || string(body) != tc.want {
				t.Fatalf("got %d %s, want %s", status, body, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, path, body string
		status           int
		code, message    string
	}{
		{"bad method", path, `{"method":"patch","path":"/3/0"}`, 400, "BAD_REQUEST", "method: must be get, put, post or delete"},
		{"bad content_type", path, `{"method":"put","content_type":"image/png","payload":"x"}`, 400, "BAD_REQUEST", "content_type: must be one of text/plain, application/json, application/octet-stream, application/link-format, application/cbor"},
		{"bad base64", path, `{"method":"put","content_type":"application/octet-stream","payload":"%%%"}`, 400, "BAD_REQUEST", "payload: must be base64 for application/octet-stream"},
		{"bad timeout", path, `{"timeout":"soon"}`, 400, "BAD_REQUEST", `timeout: duration: time: invalid duration "soon"`},
		{"negative timeout", path, `{"timeout":"-1s"}`, 400, "BAD_REQUEST", "timeout: must be above 0 and at most 5m0s"},
		{"unknown field", path, `{"method":"get","uri":"/3/0"}`, 400, "BAD_REQUEST", `unknown field "uri"`},
		{"not JSON", path, `get /3/0`, 400, "BAD_REQUEST", ""},
		{"unknown client", "/api/v5/gateways/coap/clients/nobody/request", `{}`, 404, "CLIENT_NOT_FOUND", "Client not found"},
		{"no answer", "/api/v5/gateways/coap/clients/mute/request", `{"path":"/x","timeout":"300ms"}`, 504, "CLIENT_NOT_RESPONSE", "client mute did not respond within 300ms"},
		{"gateway that cannot", "/api/v5/gateways/stomp/clients/" + alice + "/request", `{}`, 400, "BAD_REQUEST", "gateway stomp: sending requests to its clients is unsupported"},
		{"unknown gateway", "/api/v5/gateways/nope/clients/dev-1/request", `{}`, 404, "RESOURCE_NOT_FOUND", "Gateway not loaded: nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := a.do("POST", tc.path, tc.body)
			a.wantError(status, body, tc.status, tc.code)
			var e APIError
			json.Unmarshal(body, &e)
			if tc.message != "" && e.Message != tc.message {
				t.Fatalf("message %q, want %q", e.Message, tc.message)
			}
		})
	}
}

// clPage is a clients list answer.
type clPage struct {
	Data []map[string]any `json:"data"`
	Meta clMeta           `json:"meta"`
}

type clMeta struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Count   int  `json:"count"`
	HasNext bool `json:"hasnext"`
}

// clGetJSON GETs path, expects status and decodes the body into v.
func (a *testAPI) clGetJSON(path string, status int, v any) {
	a.t.Helper()
	got, body := a.do("GET", path, "")
	if got != status {
		a.t.Fatalf("GET %s: %d %s", path, got, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		a.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// clEditGateway changes a gateway's stored configuration and applies it.
func (a *testAPI) clEditGateway(name string, edit func(*gateway.Config)) {
	a.t.Helper()
	ctx := context.Background()
	snap, err := a.store.Snapshot(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	cfg, ok := snap.Gateway(name)
	if !ok {
		a.t.Fatalf("no gateway %s", name)
	}
	edit(&cfg)
	if err := a.store.Commit(ctx, snap.WithGateway(cfg), a.mgr.Apply); err != nil {
		a.t.Fatal(err)
	}
}

// clStomp is a raw STOMP 1.2 connection, driven frame by frame.
type clStomp struct {
	t     *testing.T
	c     net.Conn
	login string
	p     stomp.Parser
	buf   []byte
}

// clDialStomp connects to the STOMP gateway with login and waits for CONNECTED.
func clDialStomp(t *testing.T, a *testAPI, login string) *clStomp {
	t.Helper()
	c, err := net.DialTimeout("tcp", a.mgr.Gateway("stomp").Addr("tcp:default").String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &clStomp{t: t, c: c, login: login}
	s.send("CONNECT\naccept-version:1.2\nhost:xgate\nlogin:" + login + "\n\n\x00")
	s.expect("CONNECTED")
	return s
}

func (s *clStomp) send(frame string) {
	s.t.Helper()
	if _, err := io.WriteString(s.c, frame); err != nil {
		s.t.Fatal(err)
	}
}

// next returns the next frame, or the read error.
func (s *clStomp) next() (*stomp.Frame, error) {
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, n, err := s.p.Next(s.buf)
		if err != nil {
			return nil, err
		}
		s.buf = s.buf[n:]
		if f != nil {
			return f, nil
		}
		if n > 0 {
			continue
		}
		chunk := make([]byte, 4096)
		k, err := s.c.Read(chunk)
		if err != nil {
			return nil, err
		}
		s.buf = append(s.buf, chunk[:k]...)
	}
}

func (s *clStomp) expect(command string) *stomp.Frame {
	s.t.Helper()
	f, err := s.next()
	if err != nil {
		s.t.Fatalf("waiting for %s: %v", command, err)
	}
	if f.Command != command {
		s.t.Fatalf("got %s %v %q, want %s", f.Command, f.Headers, f.Body, command)
	}
	return f
}

// expectClosed waits for the server to close the connection.
func (s *clStomp) expectClosed() {
	s.t.Helper()
	f, err := s.next()
	var ne net.Error
	switch {
	case err == nil:
		s.t.Fatalf("got %s while waiting for the close", f.Command)
	case errors.As(err, &ne) && ne.Timeout():
		s.t.Fatal("connection still open after 5s")
	}
}

// clStompID finds the (random) clientid of the STOMP client logged in as username.
func clStompID(t *testing.T, a *testAPI, username string) string {
	t.Helper()
	for _, c := range a.mgr.Gateway("stomp").Clients() {
		if c.Info().Username == username {
			return c.Info().ClientID
		}
	}
	t.Fatalf("no STOMP client %s", username)
	return ""
}

// clSN is a raw MQTT-SN client over UDP.
type clSN struct {
	t *testing.T
	c net.Conn
}

// clDialSN connects to the MQTT-SN gateway as clientID (keepalive 60 s) and waits for
// CONNACK.
func clDialSN(t *testing.T, a *testAPI, clientID string, clean bool) *clSN {
	t.Helper()
	c, err := net.Dial("udp", a.mgr.Gateway("mqttsn").Addr("udp:default").String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &clSN{t: t, c: c}
	s.send(&mqttsn.Packet{Type: mqttsn.Connect, Flags: mqttsn.Flags{CleanSession: clean}, ProtocolID: 1, Duration: 60, ClientID: clientID})
	if p := s.recv(); p.Type != mqttsn.Connack || p.ReturnCode != mqttsn.Accepted {
		t.Fatalf("got %s %s, want CONNACK accepted", p.Type, p.ReturnCode)
	}
	return s
}

func (s *clSN) send(p *mqttsn.Packet) {
	s.t.Helper()
	if _, err := s.c.Write(mqttsn.Append(nil, p)); err != nil {
		s.t.Fatal(err)
	}
}

// recv returns the next packet (within 5 s).
func (s *clSN) recv() *mqttsn.Packet {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := s.c.Read(buf)
	if err != nil {
		s.t.Fatalf("mqtt-sn read: %v", err)
	}
	p, err := mqttsn.Decode(buf[:n])
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// clDialCoAP connects a go-coap client that logs in as clientID with one publish
// (connectionless mode).
func clDialCoAP(t *testing.T, a *testAPI, clientID string, opts ...udp.Option) *udpclient.Conn {
	t.Helper()
	c, err := udp.Dial(a.mgr.Gateway("coap").Addr("udp:default").String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Post(ctx, "/ps/hello", message.TextPlain, strings.NewReader("up"),
		message.Option{ID: message.URIQuery, Value: []byte("clientid=" + clientID)})
	if err != nil || resp.Code() != codes.Changed {
		t.Fatalf("login publish: %v %v", err, resp)
	}
	return c
}

// clSilentCoAP logs clientID in from a raw socket that never answers requests: one NON
// POST /ps/q?clientid=<id> (RFC 7252 §3).
func clSilentCoAP(t *testing.T, a *testAPI, clientID string) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", a.mgr.Gateway("coap").Addr("udp:default").String())
	if err != nil {
		t.Fatal(err)
	}
	query := "clientid=" + clientID
	if len(query) >= 13 && len(query) < 13+256 {
		msg := []byte{0x50, 0x02, 0, 1, 0xb2, 'p', 's', 0x01, 'q', 0x4d, byte(len(query) - 13)}
		c.Write(append(msg, query...))
	} else {
		t.Fatalf("query %q: length not encodable here", query)
	}
	gatewaytest.WaitFor(t, 5*time.Second, func() error {
		if a.mgr.Gateway("coap").Client(clientID) == nil {
			return fmt.Errorf("%s not logged in", clientID)
		}
		return nil
	})
	return c
}
