package rules

import (
	"fmt"
	"net/netip"
	"regexp"

	"github.com/xgate/xgate/authn"
)

// whoMatcher is a compiled Who: regexes compiled and addresses parsed.
type whoMatcher struct {
	kind     whoKind
	str      stringMatcher  // username, clientid, client_attr value
	name     string         // client_attr name, listener id
	prefixes []netip.Prefix // ipaddr, ipaddrs
	subs     []whoMatcher   // and, or
}

type whoKind uint8

const (
	whoAll whoKind = iota
	whoUsername
	whoClientID
	whoIPAddr // ipaddr and ipaddrs
	whoListener
	whoClientAttr
	whoAnd
	whoOr
)

type stringMatcher struct {
	value string
	re    *regexp.Regexp // nil for an exact comparison
}

func compileWho(w Who, depth int) (whoMatcher, error) {
	if depth > maxWhoDepth {
		return whoMatcher{}, fieldErr("", `"and"/"or" nested more than %d deep`, maxWhoDepth)
	}
	switch n := w.conditions(); {
	case n == 0:
		return whoMatcher{kind: whoAll}, nil
	case n > 1:
		return whoMatcher{}, fieldErr("", `has more than one condition; combine them with "and" or "or"`)
	}
	switch {
	case w.Username != nil:
		m, err := compileStringMatch(*w.Username)
		return whoMatcher{kind: whoUsername, str: m}, under("username", err)
	case w.ClientID != nil:
		m, err := compileStringMatch(*w.ClientID)
		return whoMatcher{kind: whoClientID, str: m}, under("clientid", err)
	case w.IPAddr != "":
		p, err := parsePrefix(w.IPAddr)
		if err != nil {
			return whoMatcher{}, fieldErr("ipaddr", "%v", err)
		}
		return whoMatcher{kind: whoIPAddr, prefixes: []netip.Prefix{p}}, nil
	case len(w.IPAddrs) > 0:
		m := whoMatcher{kind: whoIPAddr}
		for i, s := range w.IPAddrs {
			p, err := parsePrefix(s)
			if err != nil {
				return whoMatcher{}, fieldErr(indexed("ipaddrs", i), "%v", err)
			}
			m.prefixes = append(m.prefixes, p)
		}
		return m, nil
	case w.Listener != "":
		return whoMatcher{kind: whoListener, name: w.Listener}, nil
	case w.ClientAttr != nil:
		if w.ClientAttr.Name == "" {
			return whoMatcher{}, fieldErr("client_attr.name", "required")
		}
		m, err := compileStringMatch(w.ClientAttr.Value)
		return whoMatcher{kind: whoClientAttr, name: w.ClientAttr.Name, str: m}, under("client_attr.value", err)
	case len(w.And) > 0:
		subs, err := compileWhoList(w.And, depth)
		return whoMatcher{kind: whoAnd, subs: subs}, under("and", err)
	default:
		subs, err := compileWhoList(w.Or, depth)
		return whoMatcher{kind: whoOr, subs: subs}, under("or", err)
	}
}

func compileWhoList(list []Who, depth int) ([]whoMatcher, error) {
	subs := make([]whoMatcher, len(list))
	for i, w := range list {
		m, err := compileWho(w, depth+1)
		if err != nil {
			return nil, under(indexed("", i), err)
		}
		subs[i] = m
	}
	return subs, nil
}

func compileStringMatch(s StringMatch) (stringMatcher, error) {
	if !s.Re {
		if s.Value == "" {
			// An empty client field means "none", which no rule matches.
			return stringMatcher{}, fieldErr("", "must not be empty")
		}
		return stringMatcher{value: s.Value}, nil
	}
	re, err := regexp.Compile(s.Value)
	if err != nil {
		return stringMatcher{}, fieldErr("re", "bad regex: %v", err)
	}
	return stringMatcher{value: s.Value, re: re}, nil
}

// parsePrefix reads "10.0.0.0/8" or "1.2.3.4". Host bits are cleared, as EMQX does, and an
// IPv4-mapped IPv6 prefix becomes the IPv4 prefix, since peers are compared unmapped.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("bad address %q: want a CIDR such as 10.0.0.0/8 or an IP address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func (m *whoMatcher) match(c *authn.Client) bool {
	switch m.kind {
	case whoAll:
		return true
	case whoUsername:
		return m.str.match(c.Username)
	case whoClientID:
		return m.str.match(c.ClientID)
	case whoIPAddr:
		// A zoned or mapped peer address would match no prefix as it is.
		a := c.Peer.Addr().WithZone("").Unmap()
		if !a.IsValid() {
			return false
		}
		for _, p := range m.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case whoListener:
		return c.Listener == m.name
	case whoClientAttr:
		v, ok := c.Attrs[m.name]
		return ok && m.str.match(v)
	case whoAnd:
		for i := range m.subs {
			if !m.subs[i].match(c) {
				return false
			}
		}
		return true
	case whoOr:
		for i := range m.subs {
			if m.subs[i].match(c) {
				return true
			}
		}
	}
	return false
}

// match compares a client field; an empty field is an absent one (EMQX's undefined) and
// matches nothing, not even a regex that accepts "".
func (m *stringMatcher) match(s string) bool {
	if s == "" {
		return false
	}
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return s == m.value
}
