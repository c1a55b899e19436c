package rules

import (
	"fmt"
	"strings"
)

// ParseACLFile reads an EMQX acl.conf so that operators can import the file they already
// have. Each rule is {Permission, Who, Action, Topics} or {Permission, all}:
//
//	%% dashboard may watch the broker
//	{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.
//	{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.
//	{deny, all, subscribe, ["$SYS/#", {eq, "#"}, {eq, "+/#"}]}.
//	{allow, {'and', [{user, "u"}, {client, "c"}]}, {publish, [{qos, [0,1]}, {retain, false}]}, ["t/${clientid}"]}.
//	{allow, all}.
//
// Who is all, {user|username, S}, {client|clientid, S}, {ipaddr, "cidr"},
// {ipaddrs, ["cidr", ...]}, {listener, "id"}, {client_attr, "name", S}, {'and', [Who...]}
// or {'or', [Who...]}, where S is "text" or {re, "regex"}. Action is publish, subscribe,
// all, or {Action, [{qos, N | [N...]}, {retain, true | false | all}]}. Topics is a list of
// filters and {eq, "topic"}; xgate also accepts the atom all there for "every topic", which
// ACL uses to print a rule with no topics.
//
// The comment lines right above a rule become its Comment. Errors are *SyntaxError naming
// the line and what was expected there.
func ParseACLFile(text string) ([]Rule, error) {
	r := newTermReader(text)
	var rules []Rule
	for !r.atEOF() {
		line, firstComment := r.line, len(r.comments)
		t, err := r.readForm()
		if err != nil {
			return nil, err
		}
		rule, err := termToRule(t)
		if err != nil {
			return nil, err
		}
		if err := rule.Validate(); err != nil {
			return nil, &SyntaxError{Line: line, Reason: err.Error()}
		}
		rule.Comment = commentAbove(r.comments[:firstComment], line)
		rules = append(rules, rule)
	}
	return rules, nil
}

// commentAbove joins the run of whole-line comments that ends on the line before line.
func commentAbove(comments []aclComment, line int) string {
	first := len(comments)
	for i := len(comments) - 1; i >= 0; i-- {
		c := comments[i]
		if !c.ownLine || c.line != line-(len(comments)-i) {
			break
		}
		first = i
	}
	texts := make([]string, 0, len(comments)-first)
	for _, c := range comments[first:] {
		texts = append(texts, c.text)
	}
	return strings.Join(texts, "\n")
}

func termToRule(t term) (Rule, error) {
	if t.kind != termTuple || len(t.elems) != 2 && len(t.elems) != 4 {
		return Rule{}, syntaxErr(t, "a rule {allow|deny, Who, Action, Topics} or {allow|deny, all}")
	}
	perm, err := termToPermission(t.elems[0])
	if err != nil {
		return Rule{}, err
	}
	if len(t.elems) == 2 {
		if !t.elems[1].isAtom("all") {
			return Rule{}, syntaxErr(t.elems[1], "all in a two-element rule")
		}
		return Rule{Permission: perm, Action: ActionAll}, nil
	}
	rule := Rule{Permission: perm}
	if rule.Who, err = termToWho(t.elems[1], 0); err != nil {
		return Rule{}, err
	}
	if err := termToAction(t.elems[2], &rule); err != nil {
		return Rule{}, err
	}
	if rule.Topics, err = termToTopics(t.elems[3]); err != nil {
		return Rule{}, err
	}
	return rule, nil
}

func syntaxErr(got term, expected string) error {
	return &SyntaxError{Line: got.line, Reason: fmt.Sprintf("expected %s, got %s", expected, got.describe())}
}

func termToPermission(t term) (Permission, error) {
	switch {
	case t.isAtom("allow"):
		return PermissionAllow, nil
	case t.isAtom("deny"):
		return PermissionDeny, nil
	}
	return "", syntaxErr(t, "allow or deny")
}

const whoForms = "a client condition (all, {username, ...}, {clientid, ...}, {ipaddr, ...}, " +
	"{ipaddrs, [...]}, {listener, ...}, {client_attr, Name, Value}, {'and', [...]} or {'or', [...]})"

func termToWho(t term, depth int) (Who, error) {
	if t.isAtom("all") {
		return Who{}, nil
	}
	if t.kind != termTuple || len(t.elems) == 0 || t.elems[0].kind != termAtom {
		return Who{}, syntaxErr(t, whoForms)
	}
	args := t.elems[1:]
	var (
		w   Who
		err error
	)
	switch key := t.elems[0].text; key {
	case "user", "username":
		if err = wantArgs(t, args, 1, "{username, Value}"); err == nil {
			w.Username, err = termToStringMatch(args[0])
		}
	case "client", "clientid":
		if err = wantArgs(t, args, 1, "{clientid, Value}"); err == nil {
			w.ClientID, err = termToStringMatch(args[0])
		}
	case "ipaddr":
		if err = wantArgs(t, args, 1, `{ipaddr, "cidr"}`); err == nil {
			w.IPAddr, err = termToString(args[0], "an address string")
		}
	case "ipaddrs":
		if err = wantArgs(t, args, 1, `{ipaddrs, ["cidr", ...]}`); err == nil {
			w.IPAddrs, err = termToStrings(args[0], "a list of address strings")
		}
	case "listener":
		if err = wantArgs(t, args, 1, `{listener, "type:name"}`); err == nil {
			w.Listener, err = termToString(args[0], "a listener id string")
		}
	case "client_attr":
		if err = wantArgs(t, args, 2, `{client_attr, "name", Value}`); err == nil {
			w.ClientAttr = &AttrMatch{}
			if w.ClientAttr.Name, err = termToString(args[0], "an attribute name string"); err == nil {
				var v *StringMatch
				v, err = termToStringMatch(args[1])
				if v != nil {
					w.ClientAttr.Value = *v
				}
			}
		}
	case "and", "or":
		if err = wantArgs(t, args, 1, fmt.Sprintf("{'%s', [Who, ...]}", key)); err == nil {
			var list []Who
			list, err = termToWhoList(args[0], depth)
			if key == "and" {
				w.And = list
			} else {
				w.Or = list
			}
		}
	case "zone":
		err = &SyntaxError{Line: t.line, Reason: "{zone, ...} is not supported: xgate has no zones"}
	default:
		err = syntaxErr(t, whoForms)
	}
	return w, err
}

func termToWhoList(t term, depth int) ([]Who, error) {
	if depth >= maxWhoDepth {
		return nil, &SyntaxError{Line: t.line, Reason: fmt.Sprintf("'and'/'or' nested more than %d deep", maxWhoDepth)}
	}
	if t.kind != termList || len(t.elems) == 0 {
		return nil, syntaxErr(t, "a non-empty list of client conditions")
	}
	list := make([]Who, len(t.elems))
	for i, e := range t.elems {
		w, err := termToWho(e, depth+1)
		if err != nil {
			return nil, err
		}
		list[i] = w
	}
	return list, nil
}

func wantArgs(t term, args []term, n int, form string) error {
	if len(args) != n {
		return syntaxErr(t, form)
	}
	return nil
}

func termToStringMatch(t term) (*StringMatch, error) {
	if t.kind == termString {
		return &StringMatch{Value: t.text}, nil
	}
	if t.kind == termTuple && len(t.elems) == 2 && t.elems[0].isAtom("re") && t.elems[1].kind == termString {
		return &StringMatch{Value: t.elems[1].text, Re: true}, nil
	}
	return nil, syntaxErr(t, `a string or {re, "regex"}`)
}

func termToString(t term, what string) (string, error) {
	if t.kind != termString {
		return "", syntaxErr(t, what)
	}
	return t.text, nil
}

func termToStrings(t term, what string) ([]string, error) {
	if t.kind != termList || len(t.elems) == 0 {
		return nil, syntaxErr(t, what)
	}
	list := make([]string, len(t.elems))
	for i, e := range t.elems {
		s, err := termToString(e, what)
		if err != nil {
			return nil, err
		}
		list[i] = s
	}
	return list, nil
}

const actionForms = "publish, subscribe, all or {Action, [{qos, ...}, {retain, ...}]}"

// termToAction sets r's Action, QoS and Retain.
func termToAction(t term, r *Rule) error {
	name, opts := t, term{}
	if t.kind == termTuple {
		if len(t.elems) != 2 || t.elems[1].kind != termList {
			return syntaxErr(t, actionForms)
		}
		name, opts = t.elems[0], t.elems[1]
	}
	switch {
	case name.isAtom("publish", "subscribe", "all"):
		r.Action = Action(name.text)
	case name.isAtom("pubsub"):
		return &SyntaxError{Line: name.line, Reason: "pubsub is EMQX 4 syntax: write all"}
	default:
		return syntaxErr(name, actionForms)
	}
	for _, o := range opts.elems {
		if o.kind != termTuple || len(o.elems) != 2 {
			return syntaxErr(o, "an action option {qos, ...} or {retain, ...}")
		}
		switch val := o.elems[1]; {
		case o.elems[0].isAtom("qos"):
			qos, err := termToQoS(val)
			if err != nil {
				return err
			}
			r.QoS = append(r.QoS, qos...)
		case o.elems[0].isAtom("retain"):
			retain, err := termToRetain(val)
			if err != nil {
				return err
			}
			// EMQX reads retain for publish and all only, and ignores it on subscribe.
			if r.Action != ActionSubscribe {
				r.Retain = retain
			}
		default:
			return syntaxErr(o, "an action option {qos, ...} or {retain, ...}")
		}
	}
	return nil
}

func termToQoS(t term) ([]int, error) {
	if t.kind == termInt {
		return []int{t.num}, nil
	}
	if t.kind != termList || len(t.elems) == 0 {
		return nil, syntaxErr(t, "a QoS 0, 1 or 2 or a non-empty list of them")
	}
	qos := make([]int, len(t.elems))
	for i, e := range t.elems {
		if e.kind != termInt {
			return nil, syntaxErr(e, "a QoS 0, 1 or 2")
		}
		qos[i] = e.num
	}
	return qos, nil
}

func termToRetain(t term) (Retain, error) {
	switch {
	case t.isAtom("true"):
		return RetainTrue, nil
	case t.isAtom("false"):
		return RetainFalse, nil
	case t.isAtom("all"):
		return RetainAll, nil
	}
	return RetainAll, syntaxErr(t, "true, false or all")
}

func termToTopics(t term) ([]string, error) {
	if t.isAtom("all") {
		return nil, nil
	}
	if t.kind != termList {
		return nil, syntaxErr(t, `a list of topics, such as ["t/#", {eq, "t"}]`)
	}
	if len(t.elems) == 0 {
		// In EMQX an empty list matches nothing, while xgate's empty Topics matches
		// everything: refuse rather than turn a dead rule into a catch-all.
		return nil, &SyntaxError{Line: t.line, Reason: "empty topic list, which EMQX never matches: remove the rule"}
	}
	topics := make([]string, len(t.elems))
	for i, e := range t.elems {
		switch {
		case e.kind == termString:
			topics[i] = e.text
		case e.kind == termTuple && len(e.elems) == 2 && e.elems[0].isAtom("eq") && e.elems[1].kind == termString:
			topics[i] = eqPrefix + e.elems[1].text
		default:
			return nil, syntaxErr(e, `a topic string or {eq, "topic"}`)
		}
	}
	return topics, nil
}
