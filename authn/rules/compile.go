package rules

import (
	"context"
	"fmt"

	"github.com/xgate/xgate/authn"
)

// Set is a compiled rule list. It is immutable, so one Set serves any number of
// goroutines; a changed list is compiled into a new Set and swapped in.
type Set struct {
	rules []compiledRule
}

var _ authn.Source = (*Set)(nil)

type compiledRule struct {
	decision  authn.Decision
	publish   bool
	subscribe bool
	// qos has bit n set when QoS n is allowed; it is anyQoS when the rule lists none.
	qos      uint8
	retain   Retain
	who      whoMatcher
	anyTopic bool
	filters  []filter
}

const anyQoS = 0xff

// Compile checks rules and compiles them in order. Errors are *FieldError naming the rule,
// e.g. "rules[3].topics[0]: ...".
func Compile(rules []Rule) (*Set, error) {
	s := &Set{rules: make([]compiledRule, len(rules))}
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, under(indexed("rules", i), err)
		}
		s.rules[i] = cr
	}
	return s, nil
}

// Validate checks r as Compile would. Errors are *FieldError with paths relative to the
// rule, e.g. "who.ipaddr".
func (r Rule) Validate() error {
	_, err := compileRule(r)
	return err
}

// Len returns the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

func compileRule(r Rule) (compiledRule, error) {
	var cr compiledRule
	switch r.Permission {
	case PermissionAllow:
		cr.decision = authn.Allow
	case PermissionDeny:
		cr.decision = authn.Deny
	case "":
		return cr, fieldErr("permission", "required")
	default:
		return cr, fieldErr("permission", `%q is not "allow" or "deny"`, r.Permission)
	}
	switch r.Action {
	case ActionPublish:
		cr.publish = true
	case ActionSubscribe:
		cr.subscribe = true
	case ActionAll:
		cr.publish, cr.subscribe = true, true
	case "":
		return cr, fieldErr("action", "required")
	default:
		return cr, fieldErr("action", `%q is not "publish", "subscribe" or "all"`, r.Action)
	}
	cr.qos = anyQoS
	if len(r.QoS) > 0 {
		cr.qos = 0
		for i, q := range r.QoS {
			if q < 0 || q > 2 {
				return cr, fieldErr(indexed("qos", i), "%d is not 0, 1 or 2", q)
			}
			cr.qos |= 1 << q
		}
	}
	switch r.Retain {
	case RetainAll:
	case RetainTrue, RetainFalse:
		if r.Action == ActionSubscribe {
			return cr, fieldErr("retain", "applies to publish only; leave it out of a subscribe rule")
		}
	default:
		return cr, fieldErr("retain", "%d is not RetainAll, RetainTrue or RetainFalse", r.Retain)
	}
	cr.retain = r.Retain
	who, err := compileWho(r.Who, 0)
	if err != nil {
		return cr, under("who", err)
	}
	cr.who = who
	cr.anyTopic = len(r.Topics) == 0
	cr.filters = make([]filter, len(r.Topics))
	for i, t := range r.Topics {
		f, err := compileTopic(t)
		if err != nil {
			return cr, fieldErr(indexed("topics", i), "%v", err)
		}
		cr.filters[i] = f
	}
	return cr, nil
}

// Check finds the first rule that matches the client, the action (and its QoS and
// retain flag) and the topic: its permission decides, and index is its position. When no
// rule matches, d is Ignore and index -1. A superuser is checked like anyone else: the
// caller bypasses authorization for superusers, as EMQX does.
func (s *Set) Check(_ context.Context, c *authn.Client, r authn.Request) (d authn.Decision, index int, err error) {
	if r.Action != authn.Publish && r.Action != authn.Subscribe {
		return authn.Ignore, -1, fmt.Errorf("rules: unknown action %d", r.Action)
	}
	if s == nil {
		return authn.Ignore, -1, nil
	}
	if c == nil {
		c = &authn.Client{}
	}
	for i := range s.rules {
		cr := &s.rules[i]
		if cr.matchAction(r) && cr.who.match(c) && cr.matchTopic(r.Topic, c) {
			return cr.decision, i, nil
		}
	}
	return authn.Ignore, -1, nil
}

func (cr *compiledRule) matchAction(r authn.Request) bool {
	if r.Action == authn.Publish && !cr.publish || r.Action == authn.Subscribe && !cr.subscribe {
		return false
	}
	// A QoS outside 0..2 (a gateway's own, such as MQTT-SN's -1) meets only rules that
	// list no QoS.
	if cr.qos != anyQoS && (r.QoS > 2 || cr.qos&(1<<r.QoS) == 0) {
		return false
	}
	if r.Action == authn.Publish {
		switch cr.retain {
		case RetainTrue:
			return r.Retain
		case RetainFalse:
			return !r.Retain
		}
	}
	return true
}

func (cr *compiledRule) matchTopic(topic string, c *authn.Client) bool {
	if cr.anyTopic {
		return true
	}
	for i := range cr.filters {
		if cr.filters[i].match(topic, c) {
			return true
		}
	}
	return false
}
