// Package rules is the global, ordered authorization rule list, after EMQX's ACL file
// (apps/emqx_auth/etc/acl.conf): the first rule that matches a client, an action and a topic
// allows or denies it, and a request no rule matches is left to the next source.
//
// Rules are edited as JSON (ParseRules), may be imported from an EMQX acl.conf
// (ParseACLFile), and are compiled once (Compile) into a Set that answers Check without
// parsing anything.
package rules

// Rule is one authorization rule in the JSON form the database stores and the API sends:
//
//	{"permission": "allow", "who": {"username": "u"}, "action": "publish",
//	 "qos": [0, 1], "retain": false, "topics": ["t/${clientid}", "eq a/#"], "comment": "..."}
//
// Topics are MQTT topic filters matched as EMQX does (see topic.go), with the placeholders
// ${clientid}, ${username}, ${cert_common_name} and ${client_attrs.NAME}. A topic written
// "eq t" matches the requested topic t exactly, with no wildcards and no placeholders.
// An empty Topics matches every topic, "$"-topics included: it is what EMQX's two-element
// rule {allow, all} means.
type Rule struct {
	Permission Permission `json:"permission"`
	Who        Who        `json:"who"`
	Action     Action     `json:"action"`
	// QoS lists the QoS levels the rule applies to; empty means any.
	QoS []int `json:"qos,omitempty"`
	// Retain restricts a rule to retained or non-retained publishes. It does not apply to
	// subscribes, so a subscribe rule must leave it RetainAll.
	Retain  Retain   `json:"retain,omitempty"`
	Topics  []string `json:"topics"`
	Comment string   `json:"comment,omitempty"`
}

// Permission is what a matching rule decides.
type Permission string

const (
	PermissionAllow Permission = "allow"
	PermissionDeny  Permission = "deny"
)

// Action is the kind of request a rule applies to.
type Action string

const (
	ActionPublish   Action = "publish"
	ActionSubscribe Action = "subscribe"
	ActionAll       Action = "all"
)

// Retain is a rule's condition on a publish's retain flag: JSON "all", true or false.
type Retain int8

const (
	RetainAll   Retain = iota // any publish
	RetainTrue                // retained publishes only
	RetainFalse               // non-retained publishes only
)

// Who is the client condition of a rule. At most one field is set; none means every
// client (JSON "all"). In JSON it is "all" or an object with exactly one key:
//
//	{"username": "u"}  {"clientid": {"re": "^dev-"}}  {"ipaddr": "10.0.0.0/8"}
//	{"ipaddrs": ["10.0.0.1", "fd00::/8"]}  {"listener": "stomp:tcp:default"}
//	{"client_attr": {"name": "site", "value": "paris"}}  {"and": [...]}  {"or": [...]}
type Who struct {
	Username *StringMatch
	ClientID *StringMatch
	// IPAddr is a CIDR or a single address the client's peer address must be in.
	IPAddr  string
	IPAddrs []string
	// Listener is a listener id, e.g. "stomp:tcp:default".
	Listener   string
	ClientAttr *AttrMatch
	And        []Who
	Or         []Who
}

// IsAll reports whether w matches every client.
func (w Who) IsAll() bool {
	return w.conditions() == 0
}

// conditions counts the fields set, which must be at most one.
func (w Who) conditions() int {
	return count(w.Username != nil) + count(w.ClientID != nil) + count(w.IPAddr != "") +
		count(len(w.IPAddrs) > 0) + count(w.Listener != "") + count(w.ClientAttr != nil) +
		count(len(w.And) > 0) + count(len(w.Or) > 0)
}

func count(set bool) int {
	if set {
		return 1
	}
	return 0
}

// StringMatch compares a client field with Value, or when Re is set, searches it for the
// regular expression Value (unanchored, as EMQX's re:run; the syntax is Go's RE2, which
// lacks PCRE's look-arounds and back-references). In JSON it is "value" or {"re": "value"}.
type StringMatch struct {
	Value string
	Re    bool
}

// AttrMatch matches the client attribute Name (JSON {"name": "n", "value": StringMatch}).
type AttrMatch struct {
	Name  string      `json:"name"`
	Value StringMatch `json:"value"`
}
