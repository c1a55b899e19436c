package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// ACL renders r in acl.conf syntax, for display: its Comment as "%%" lines, then the rule
// ending with ".". ParseACLFile reads the result back into the same rule. A rule with no
// topics prints them as the atom all (an xgate extension), unless it is the whole of
// EMQX's {allow, all}.
func (r Rule) ACL() string {
	var b strings.Builder
	if r.Comment != "" {
		for line := range strings.SplitSeq(r.Comment, "\n") {
			b.WriteString(strings.TrimRight("%% "+line, " "))
			b.WriteByte('\n')
		}
	}
	b.WriteByte('{')
	b.WriteString(string(r.Permission))
	if r.Who.IsAll() && r.Action == ActionAll && len(r.QoS) == 0 && r.Retain == RetainAll && len(r.Topics) == 0 {
		b.WriteString(", all}.")
		return b.String()
	}
	b.WriteString(", ")
	writeWho(&b, r.Who)
	b.WriteString(", ")
	writeAction(&b, r)
	b.WriteString(", ")
	writeTopics(&b, r.Topics)
	b.WriteString("}.")
	return b.String()
}

func writeWho(b *strings.Builder, w Who) {
	switch {
	case w.Username != nil:
		b.WriteString("{username, ")
		writeStringMatch(b, *w.Username)
		b.WriteByte('}')
	case w.ClientID != nil:
		b.WriteString("{clientid, ")
		writeStringMatch(b, *w.ClientID)
		b.WriteByte('}')
	case w.IPAddr != "":
		fmt.Fprintf(b, "{ipaddr, %s}", erlString(w.IPAddr))
	case len(w.IPAddrs) > 0:
		b.WriteString("{ipaddrs, [")
		for i, a := range w.IPAddrs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(erlString(a))
		}
		b.WriteString("]}")
	case w.Listener != "":
		fmt.Fprintf(b, "{listener, %s}", erlString(w.Listener))
	case w.ClientAttr != nil:
		fmt.Fprintf(b, "{client_attr, %s, ", erlString(w.ClientAttr.Name))
		writeStringMatch(b, w.ClientAttr.Value)
		b.WriteByte('}')
	case len(w.And) > 0:
		writeWhoList(b, "'and'", w.And)
	case len(w.Or) > 0:
		writeWhoList(b, "'or'", w.Or)
	default:
		b.WriteString("all")
	}
}

func writeWhoList(b *strings.Builder, op string, list []Who) {
	b.WriteString("{" + op + ", [")
	for i, w := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		writeWho(b, w)
	}
	b.WriteString("]}")
}

func writeStringMatch(b *strings.Builder, m StringMatch) {
	if m.Re {
		fmt.Fprintf(b, "{re, %s}", erlString(m.Value))
		return
	}
	b.WriteString(erlString(m.Value))
}

func writeAction(b *strings.Builder, r Rule) {
	if len(r.QoS) == 0 && r.Retain == RetainAll {
		b.WriteString(string(r.Action))
		return
	}
	var opts []string
	if len(r.QoS) > 0 {
		qos := make([]string, len(r.QoS))
		for i, q := range r.QoS {
			qos[i] = strconv.Itoa(q)
		}
		opts = append(opts, "{qos, ["+strings.Join(qos, ",")+"]}")
	}
	switch r.Retain {
	case RetainTrue:
		opts = append(opts, "{retain, true}")
	case RetainFalse:
		opts = append(opts, "{retain, false}")
	}
	fmt.Fprintf(b, "{%s, [%s]}", r.Action, strings.Join(opts, ", "))
}

func writeTopics(b *strings.Builder, topics []string) {
	if len(topics) == 0 {
		b.WriteString("all")
		return
	}
	b.WriteByte('[')
	for i, t := range topics {
		if i > 0 {
			b.WriteString(", ")
		}
		if exact, ok := strings.CutPrefix(t, eqPrefix); ok {
			fmt.Fprintf(b, "{eq, %s}", erlString(exact))
		} else {
			b.WriteString(erlString(t))
		}
	}
	b.WriteByte(']')
}

// erlString quotes s as an Erlang string literal. Bytes from 0x80 up are written as they
// are, so UTF-8 text stays readable and any byte string reads back unchanged.
func erlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x{%X}`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
