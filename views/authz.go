package views

import "strconv"

// Authz is the authorization page: the global settings, the sources, the ordered rule list
// with its editor, the "would this be allowed?" tester and the acl.conf import and export.
type Authz struct {
	Settings AuthzSettings
	Sources  []AuthzSource
	Rules    AuthzRules
	// Editor is the rule form when it is open (adding or editing a rule), else nil.
	Editor *AuthzRuleForm
	Tester AuthzTester
	Import AuthzImport
}

// AuthzSettings is the settings form: what decides a request no source decided, and what
// follows a denial.
type AuthzSettings struct {
	NoMatch    string // "allow" or "deny"
	DenyAction string // "ignore" or "disconnect"
	// Errors are messages by field ("no_match", "deny_action"); "" is the form's own.
	Errors map[string]string
}

// AuthzSource is one authorization source, in the order they are asked.
type AuthzSource struct {
	Type    string // "rules", "http"
	Enabled bool
	// Summary says what the source asks, e.g. "POST https://auth.example/acl".
	Summary string
	// JSON is the source's configuration with its secrets masked, for an HTTP source.
	JSON string
}

// AuthzRules is the ordered rule list.
type AuthzRules struct {
	List []AuthzRule
	// Highlight is the id of the rule the tester found deciding (0: none).
	Highlight int64
	// Asked reports whether a rules source exists and is enabled: otherwise the list is
	// kept but not used, which the page says.
	Asked bool
}

// AuthzRule is one rule as the list shows it: readable parts, not JSON.
type AuthzRule struct {
	ID int64
	// Position is the rule's place in the list, from 1.
	Position   int
	Permission string // "allow" or "deny"
	Who        string // "username = alice", "every client", ...
	Action     string // "publish", "subscribe", "publish and subscribe"
	// QoS and Retain are the rule's conditions in words; "" when there is none.
	QoS    string
	Retain string
	// Topics are the rule's topic filters; none means every topic.
	Topics  []AuthzTopic
	Comment string
	// ACL is the rule in acl.conf syntax, for reference.
	ACL string
	// PrevID and NextID are the neighbours' ids (0 at an end), the targets of up and down.
	PrevID, NextID int64
}

// Conditions are the rule's QoS and retain conditions in words, "" when it has none.
func (r AuthzRule) Conditions() string {
	switch {
	case r.QoS != "" && r.Retain != "":
		return r.QoS + ", " + r.Retain
	case r.QoS != "":
		return r.QoS
	}
	return r.Retain
}

// AuthzTopic is one topic filter of a rule.
type AuthzTopic struct {
	Filter string
	// Exact is a topic matched as written ("eq t"), wildcards and placeholders included.
	Exact bool
}

// Who kinds of the rule form (AuthzRuleForm.WhoKind).
const (
	AuthzWhoAll      = "all"
	AuthzWhoUsername = "username"
	AuthzWhoClientID = "clientid"
	AuthzWhoIPAddr   = "ipaddr"
	AuthzWhoListener = "listener"
	AuthzWhoJSON     = "json"
)

// AuthzWhoKinds are the choices of the rule form's client condition, in order.
func AuthzWhoKinds() []AuthzChoice {
	return []AuthzChoice{
		{Value: AuthzWhoAll, Label: "Every client"},
		{Value: AuthzWhoUsername, Label: "Username"},
		{Value: AuthzWhoClientID, Label: "Client ID"},
		{Value: AuthzWhoIPAddr, Label: "IP address or CIDR"},
		{Value: AuthzWhoListener, Label: "Listener"},
		{Value: AuthzWhoJSON, Label: "Advanced (JSON: and, or, client attribute)"},
	}
}

// AuthzChoice is one option of a select.
type AuthzChoice struct {
	Value string
	Label string
}

// AuthzRuleForm is the form that adds (ID 0) or edits a rule, with what was entered.
type AuthzRuleForm struct {
	ID         int64
	Permission string
	WhoKind    string // an AuthzWho* constant
	// WhoValue is the username, client ID, listener id, or one or more addresses.
	WhoValue string
	// WhoRegex makes a username or client ID a regular expression.
	WhoRegex bool
	// WhoJSON is the client condition as JSON, for WhoKind AuthzWhoJSON.
	WhoJSON string
	Action  string
	// QoS are the QoS levels the rule applies to; all three is any.
	QoS [3]bool
	// Retain is "all", "true" (retained only) or "false" (not retained).
	Retain  string
	Topics  string // one filter per line
	Comment string
	// Place is where a new rule goes: "rear" or "front".
	Place string
	// Number is the edited rule's place in the list, from 1, for the title.
	Number int
	// Errors are messages by field ("permission", "who", "action", "qos", "retain",
	// "topics", "comment"); "" is the form's own.
	Errors map[string]string
}

// Editing reports whether the form edits a stored rule.
func (f AuthzRuleForm) Editing() bool { return f.ID != 0 }

// ActionURL is the URL the form posts to.
func (f AuthzRuleForm) ActionURL() string {
	if f.ID != 0 {
		return "/authorization/rules/" + strconv.FormatInt(f.ID, 10)
	}
	return "/authorization/rules"
}

// AuthzTester is the "would this be allowed?" form and its answer.
type AuthzTester struct {
	ClientID string
	Username string
	PeerHost string
	Listener string
	Action   string // "publish" or "subscribe"
	Topic    string
	QoS      int
	Retain   bool
	// Listeners are the configured listener ids, offered as suggestions.
	Listeners []string
	// Errors are messages by field ("clientid", "peerhost", "action", "topic", "qos", ...).
	Errors map[string]string
	// Result is the answer to the last question, nil before one was asked.
	Result *AuthzVerdict
}

// AuthzVerdict is what the running authorization decided, and why.
type AuthzVerdict struct {
	Allowed bool
	// Source is what decided: "rules", "http", "no_match", "superuser".
	Source string
	// Disconnect is deny_action's "disconnect": the client would be disconnected.
	Disconnect bool
	// Rule is the rule that decided, when a rule of the list did.
	Rule *AuthzRule
}

// AuthzImport is the acl.conf import form and the result of the last import.
type AuthzImport struct {
	Text string
	// Mode is "append" (add to the end of the list) or "replace".
	Mode   string
	Errors map[string]string // "acl", "mode", ""
	// Done says what the last import did.
	Done string
}

func uiazID(id int64) string { return strconv.FormatInt(id, 10) }

func uiazQoSText(q int) string { return strconv.Itoa(q) }

func uiazResult(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

// uiazDescribedBy is the aria-describedby of a field: its help (help may be "") and, when
// it was refused, its error message.
func uiazDescribedBy(help, errID, errMsg string) string {
	switch {
	case errMsg == "":
		return help
	case help == "":
		return errID
	}
	return help + " " + errID
}

// uiazGist is a rule in a few words, for the tester's answer:
// "(deny publish, every client; the comment)".
func uiazGist(r AuthzRule) string {
	g := "(" + r.Permission + " " + r.Action + ", " + r.Who
	if r.Comment != "" {
		g += "; " + r.Comment
	}
	return g + ")"
}
