package rules

import (
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
)

func TestFilterMatch(t *testing.T) {
	dev1 := &authn.Client{ClientID: "dev1", Username: "alice", CertCommonName: "cn1",
		Attrs: map[string]string{"site": "paris", "empty": "", "slash": "a/b"}}
	tests := []struct {
		name      string
		filter    string
		requested string
		client    *authn.Client
		want      bool
	}{
		{name: "literal", filter: "a/b", requested: "a/b", want: true},
		{name: "literal differs", filter: "a/b", requested: "a/c"},
		{name: "literal longer topic", filter: "a", requested: "a/b"},
		{name: "literal shorter topic", filter: "a/b", requested: "a"},
		{name: "trailing slash is a level", filter: "a", requested: "a/"},
		{name: "plus one level", filter: "a/+", requested: "a/b", want: true},
		{name: "plus needs a level", filter: "a/+", requested: "a"},
		{name: "plus matches empty level", filter: "a/+", requested: "a/", want: true},
		{name: "plus not two levels", filter: "a/+", requested: "a/b/c"},
		{name: "plus in the middle", filter: "a/+/c", requested: "a/b/c", want: true},
		{name: "hash rest", filter: "a/#", requested: "a/b/c", want: true},
		{name: "hash parent level", filter: "a/#", requested: "a", want: true},
		{name: "hash not sibling", filter: "a/#", requested: "ab"},
		{name: "hash alone", filter: "#", requested: "x/y", want: true},
		{name: "hash empty topic", filter: "#", requested: "", want: true},
		{name: "empty levels", filter: "a//b", requested: "a//b", want: true},
		{name: "leading slash", filter: "/+", requested: "/x", want: true},

		// A subscribe requests a filter; EMQX compares it level by level.
		{name: "rule plus covers requested hash", filter: "a/+", requested: "a/#", want: true},
		{name: "rule plus covers requested plus", filter: "a/+", requested: "a/+", want: true},
		{name: "rule hash covers requested filter", filter: "a/#", requested: "a/+/c/#", want: true},
		{name: "rule literal does not cover plus", filter: "a/b", requested: "a/+"},
		{name: "rule literal does not cover hash", filter: "a/b", requested: "a/#"},
		{name: "requested hash equals rule hash", filter: "#", requested: "#", want: true},
		{name: "rule plus vs requested deeper hash", filter: "+", requested: "+/#"},

		// "$" topics escape leading wildcards [MQTT-4.7.2-1].
		{name: "hash skips $SYS", filter: "#", requested: "$SYS/uptime"},
		{name: "plus skips $SYS", filter: "+/uptime", requested: "$SYS/uptime"},
		{name: "named $SYS", filter: "$SYS/#", requested: "$SYS/uptime", want: true},
		{name: "dollar not first level", filter: "#", requested: "a/$b", want: true},
		{name: "share is a plain topic", filter: "$share/#", requested: "$share/g/t", want: true},

		{name: "eq exact", filter: "eq a/#", requested: "a/#", want: true},
		{name: "eq has no wildcards", filter: "eq a/#", requested: "a/b"},
		{name: "eq has no placeholders", filter: "eq ${clientid}", requested: "dev1", client: dev1},
		{name: "eq placeholder text", filter: "eq ${clientid}", requested: "${clientid}", client: dev1, want: true},
		{name: "eq hash only", filter: "eq #", requested: "#", want: true},
		{name: "eq hash vs topic", filter: "eq #", requested: "x"},

		{name: "clientid", filter: "d/${clientid}/#", requested: "d/dev1/up", client: dev1, want: true},
		{name: "clientid of another", filter: "d/${clientid}/#", requested: "d/dev2/up", client: dev1},
		{name: "clientid wildcard request", filter: "d/${clientid}", requested: "d/+", client: dev1},
		{name: "username", filter: "u/${username}", requested: "u/alice", client: dev1, want: true},
		{name: "cert common name", filter: "c/${cert_common_name}", requested: "c/cn1", client: dev1, want: true},
		{name: "client attr", filter: "s/${client_attrs.site}", requested: "s/paris", client: dev1, want: true},
		{name: "template with literals", filter: "x/pre-${clientid}-${username}.v", requested: "x/pre-dev1-alice.v", client: dev1, want: true},
		{name: "template suffix differs", filter: "x/pre-${clientid}", requested: "x/pre-dev1x", client: dev1},
		{name: "template prefix differs", filter: "x/pre-${clientid}", requested: "x/pr-dev1", client: dev1},
		{name: "empty username", filter: "u/${username}", requested: "u/", client: &authn.Client{ClientID: "c"}},
		{name: "missing attr", filter: "s/${client_attrs.nope}", requested: "s/", client: dev1},
		{name: "empty attr", filter: "s/${client_attrs.empty}", requested: "s/", client: dev1},
		{name: "value with slash", filter: "s/${client_attrs.slash}", requested: "s/a/b", client: dev1},
		{name: "value plus", filter: "d/${clientid}/x", requested: "d/+/x", client: &authn.Client{ClientID: "+"}},
		{name: "value hash", filter: "d/${clientid}", requested: "d/#", client: &authn.Client{ClientID: "#"}},
		{name: "placeholder first level then dollar", filter: "${clientid}/x", requested: "$d/x", client: &authn.Client{ClientID: "$d"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := compileTopic(tt.filter)
			if err != nil {
				t.Fatalf("compileTopic(%q): %v", tt.filter, err)
			}
			c := tt.client
			if c == nil {
				c = &authn.Client{}
			}
			if got := f.match(tt.requested, c); got != tt.want {
				t.Errorf("filter %q, requested %q: match = %v, want %v", tt.filter, tt.requested, got, tt.want)
			}
			if got := refMatch(tt.requested, tt.filter, c); got != tt.want {
				t.Errorf("reference matcher disagrees with the table: %v", got)
			}
		})
	}
}

func TestCompileTopicErrors(t *testing.T) {
	tests := []struct {
		topic string
		want  string
	}{
		{"", "empty topic"},
		{"eq ", `empty topic after "eq "`},
		{"a/#/b", `invalid filter "a/#/b": "#" must be the last level`},
		{"#/a", `"#" must be the last level`},
		{"a+", `"+" and "#" must fill a whole level`},
		{"a/b#", `"+" and "#" must fill a whole level`},
		{"a/${clientid}+", `"+" and "#" must fill a whole level`},
		{"a/\x00", "NUL character"},
		{"a/${clientid", `unterminated placeholder "${clientid"`},
		{"a/${peerhost}", "unknown placeholder ${peerhost}"},
		{"a/${client_attrs.}", "unknown placeholder ${client_attrs.}"},
		{"a/${}", "unknown placeholder ${}"},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			_, err := compileTopic(tt.topic)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("compileTopic(%q) = %v, want an error containing %q", tt.topic, err, tt.want)
			}
		})
	}
}

func TestCompileTopicAccepts(t *testing.T) {
	for _, topic := range []string{"#", "+", "/", "a//b", "$SYS/#", "a/$", "a/$x{", "${clientid}", "eq a/#/b", "eq +x", "a/{clientid}"} {
		if _, err := compileTopic(topic); err != nil {
			t.Errorf("compileTopic(%q): %v", topic, err)
		}
	}
}

// refMatch is an independent reading of EMQX's matcher, used to check filter.match: render
// the placeholders into a string, then compare level lists as emqx_topic:match does.
func refMatch(topic, rule string, c *authn.Client) bool {
	if exact, ok := strings.CutPrefix(rule, "eq "); ok {
		return topic == exact
	}
	var rendered strings.Builder
	for rule != "" {
		start := strings.Index(rule, "${")
		if start < 0 {
			rendered.WriteString(rule)
			break
		}
		rendered.WriteString(rule[:start])
		end := strings.Index(rule[start:], "}")
		name := rule[start+2 : start+end]
		var v string
		switch {
		case name == "clientid":
			v = c.ClientID
		case name == "username":
			v = c.Username
		case name == "cert_common_name":
			v = c.CertCommonName
		case strings.HasPrefix(name, "client_attrs."):
			v = c.Attrs[strings.TrimPrefix(name, "client_attrs.")]
		}
		if v == "" || strings.ContainsAny(v, "/+#") {
			return false
		}
		rendered.WriteString(v)
		rule = rule[start+end+1:]
	}
	filter := rendered.String()
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	return refWords(strings.Split(topic, "/"), strings.Split(filter, "/"))
}

func refWords(name, filter []string) bool {
	switch {
	case len(name) == 0 && len(filter) == 0:
		return true
	case len(filter) == 1 && filter[0] == "#":
		return true
	case len(name) == 0 || len(filter) == 0:
		return false
	case name[0] == filter[0] || filter[0] == "+":
		return refWords(name[1:], filter[1:])
	}
	return false
}
