package rules

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/xgate/xgate/authn"
)

// benchRules returns 50 rules of the usual kinds: per-user and per-device grants with
// placeholders, regexes, address ranges, listeners, and a final catch-all.
func benchRules() []Rule {
	var rules []Rule
	for i := range 12 {
		rules = append(rules,
			Rule{Permission: PermissionAllow, Who: Who{Username: &StringMatch{Value: fmt.Sprintf("user%d", i)}},
				Action: ActionAll, Topics: []string{fmt.Sprintf("users/user%d/#", i), "shared/+/status"}},
			Rule{Permission: PermissionAllow, Who: Who{ClientID: &StringMatch{Value: fmt.Sprintf("^sensor-%d-", i), Re: true}},
				Action: ActionPublish, QoS: []int{0, 1}, Topics: []string{"sensors/${clientid}/+", "eq sensors/all"}},
			Rule{Permission: PermissionDeny, Who: Who{IPAddrs: []string{fmt.Sprintf("192.168.%d.0/24", i), "fd00::/8"}},
				Action: ActionSubscribe, Topics: []string{"$SYS/#", "admin/#"}},
			Rule{Permission: PermissionAllow, Who: Who{And: []Who{{Listener: "stomp:tcp:default"}, {ClientAttr: &AttrMatch{Name: "site", Value: StringMatch{Value: fmt.Sprintf("site%d", i)}}}}},
				Action: ActionAll, Retain: RetainFalse, Topics: []string{"sites/${client_attrs.site}/#"}},
		)
	}
	return append(rules,
		Rule{Permission: PermissionAllow, Action: ActionAll, Topics: []string{"devices/${clientid}/${username}/#"}},
		Rule{Permission: PermissionDeny, Action: ActionAll})
}

func BenchmarkCheck(b *testing.B) {
	s, err := Compile(benchRules())
	if err != nil {
		b.Fatal(err)
	}
	if s.Len() != 50 {
		b.Fatalf("%d rules", s.Len())
	}
	c := &authn.Client{ClientID: "dev-42", Username: "bob", Peer: netip.MustParseAddrPort("10.0.0.7:40000"),
		Listener: "coap:udp:default", Attrs: map[string]string{"site": "site99"}}
	ctx := context.Background()
	cases := []struct {
		name      string
		req       authn.Request
		wantIndex int
	}{
		// Matches the 49th rule: every earlier rule is tried first.
		{"late match", authn.Request{Action: authn.Publish, Topic: "devices/dev-42/bob/telemetry/temp", QoS: 1}, 48},
		{"catch-all", authn.Request{Action: authn.Subscribe, Topic: "other/topic/#"}, 49},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			if _, i, _ := s.Check(ctx, c, bc.req); i != bc.wantIndex {
				b.Fatalf("index %d, want %d", i, bc.wantIndex)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Check(ctx, c, bc.req)
			}
		})
	}
}
