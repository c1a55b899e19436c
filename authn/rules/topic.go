package rules

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xgate/xgate/authn"
)

// Topic matching follows EMQX's emqx_topic:match(Requested, RuleFilter). The requested
// topic, which for a subscribe is itself a filter, is split at "/" into levels and compared
// with the rule's filter level by level:
//
//   - a rule level "+" matches any one requested level, even a requested "+" or "#";
//   - a rule level "#" matches all the remaining levels, none included, so "a/#" matches "a";
//   - any other rule level matches only the identical requested level, so a requested
//     wildcard is covered only by a rule wildcard at the same place.
//
// A requested topic starting with "$" is not matched by a rule whose first level is "+" or
// "#" (MQTT 5.0 [MQTT-4.7.2-1]). EMQX's authorization skips this check, because it hands
// emqx_topic:match level lists rather than strings, so there "#" covers "$SYS/x"; xgate
// keeps the MQTT rule. A rule with no topics still matches everything, "$" topics included.
//
//	rule filter   requested            match
//	a/+           a/b                  yes
//	a/+           a/#  (subscribe)     yes: "+" covers a requested "#"
//	a/#           a                    yes: "#" covers the parent level
//	a/b           a/+  (subscribe)     no: a literal level covers only itself
//	#             $SYS/uptime          no: "$" topics need a rule that names them
//	$SYS/#        $SYS/uptime          yes
//	eq a/#        a/#                  yes; "eq a/#" matches nothing else
//	u/${clientid} u/dev1 (client dev1) yes
//
// A placeholder stands for a value of the client's. When that value is empty or contains
// "/", "+" or "#", the filter does not match: EMQX would splice such a value in as levels
// or wildcards, letting a client named "+" reach every other client's topics.

// filter is a compiled rule topic: levels split and placeholders located, so matching
// does no parsing and no allocation.
type filter struct {
	// exact is set for an "eq" topic: the requested topic must equal text.
	exact bool
	text  string
	words []filterWord
	// wildFirst tells that the filter starts with "+" or "#", which "$" topics escape.
	wildFirst bool
}

type wordKind uint8

const (
	wordLiteral  wordKind = iota
	wordPlus              // "+"
	wordHash              // "#", always the last level
	wordTemplate          // a level with placeholders, e.g. "dev-${clientid}"
)

type filterWord struct {
	kind  wordKind
	text  string         // wordLiteral
	parts []templatePart // wordTemplate
}

// valueSource says where a template part's text comes from.
type valueSource uint8

const (
	fromLiteral valueSource = iota
	fromClientID
	fromUsername
	fromCertCommonName
	fromClientAttr
)

type templatePart struct {
	source valueSource
	text   string // fromLiteral: the text; fromClientAttr: the attribute name
}

// eqPrefix marks an exact topic, as EMQX's "eq " strings and {eq, Topic} tuples.
const eqPrefix = "eq "

// compileTopic checks and compiles one rule topic. Its errors say what is wrong with the
// topic; the caller adds which topic it is.
func compileTopic(topic string) (filter, error) {
	if topic == "" {
		return filter{}, errors.New("empty topic")
	}
	if rest, ok := strings.CutPrefix(topic, eqPrefix); ok {
		if rest == "" {
			return filter{}, fmt.Errorf("empty topic after %q", eqPrefix)
		}
		return filter{exact: true, text: rest}, nil
	}
	levels := strings.Split(topic, "/")
	f := filter{text: topic, words: make([]filterWord, 0, len(levels))}
	for i, level := range levels {
		w, err := compileLevel(level, i == len(levels)-1)
		if err != nil {
			return filter{}, fmt.Errorf("invalid filter %q: %w", topic, err)
		}
		f.words = append(f.words, w)
	}
	f.wildFirst = f.words[0].kind == wordPlus || f.words[0].kind == wordHash
	return f, nil
}

func compileLevel(level string, last bool) (filterWord, error) {
	switch {
	case level == "#":
		if !last {
			return filterWord{}, errors.New(`"#" must be the last level`) // MQTT 5.0 [MQTT-4.7.1-1]
		}
		return filterWord{kind: wordHash}, nil
	case level == "+":
		return filterWord{kind: wordPlus}, nil
	case strings.ContainsAny(level, "+#"):
		return filterWord{}, errors.New(`"+" and "#" must fill a whole level`) // MQTT 5.0 [MQTT-4.7.1-2]
	case strings.ContainsRune(level, 0):
		return filterWord{}, errors.New("NUL character") // MQTT 5.0 [MQTT-4.7.3-2]
	case strings.Contains(level, "${"):
		parts, err := compileTemplate(level)
		if err != nil {
			return filterWord{}, err
		}
		return filterWord{kind: wordTemplate, parts: parts}, nil
	}
	return filterWord{kind: wordLiteral, text: level}, nil
}

// compileTemplate splits a level such as "dev-${clientid}" into literal and placeholder
// parts.
func compileTemplate(level string) ([]templatePart, error) {
	var parts []templatePart
	for level != "" {
		start := strings.Index(level, "${")
		if start < 0 {
			parts = append(parts, templatePart{text: level})
			break
		}
		if start > 0 {
			parts = append(parts, templatePart{text: level[:start]})
		}
		end := strings.IndexByte(level[start:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder %q", level[start:])
		}
		name := level[start+2 : start+end]
		p, err := placeholder(name)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		level = level[start+end+1:]
	}
	return parts, nil
}

// attrPlaceholder prefixes a client attribute placeholder, e.g. ${client_attrs.site}.
const attrPlaceholder = "client_attrs."

func placeholder(name string) (templatePart, error) {
	switch name {
	case "clientid":
		return templatePart{source: fromClientID}, nil
	case "username":
		return templatePart{source: fromUsername}, nil
	case "cert_common_name":
		return templatePart{source: fromCertCommonName}, nil
	}
	if attr, ok := strings.CutPrefix(name, attrPlaceholder); ok && attr != "" {
		return templatePart{source: fromClientAttr, text: attr}, nil
	}
	return templatePart{}, fmt.Errorf("unknown placeholder ${%s}: want ${clientid}, ${username}, ${cert_common_name} or ${client_attrs.NAME}", name)
}

// match reports whether the requested topic (a topic name, or a filter for a subscribe)
// is covered by f for client c.
func (f *filter) match(topic string, c *authn.Client) bool {
	if f.exact {
		return topic == f.text
	}
	if f.wildFirst && strings.HasPrefix(topic, "$") {
		return false
	}
	rest, more := topic, true // more: a requested level is left, maybe empty
	for i := range f.words {
		w := &f.words[i]
		if w.kind == wordHash {
			return true
		}
		if !more {
			return false
		}
		var level string
		level, rest, more = strings.Cut(rest, "/")
		switch w.kind {
		case wordLiteral:
			if level != w.text {
				return false
			}
		case wordTemplate:
			if !matchTemplate(level, w.parts, c) {
				return false
			}
		}
	}
	return !more
}

// matchTemplate compares level with the template's parts filled in for c, without
// building the filled-in string.
func matchTemplate(level string, parts []templatePart, c *authn.Client) bool {
	for _, p := range parts {
		s := p.text
		if p.source != fromLiteral {
			s = p.value(c)
			if s == "" || strings.ContainsAny(s, "/+#") {
				return false
			}
		}
		rest, ok := strings.CutPrefix(level, s)
		if !ok {
			return false
		}
		level = rest
	}
	return level == ""
}

func (p templatePart) value(c *authn.Client) string {
	switch p.source {
	case fromClientID:
		return c.ClientID
	case fromUsername:
		return c.Username
	case fromCertCommonName:
		return c.CertCommonName
	case fromClientAttr:
		return c.Attrs[p.text]
	}
	return p.text
}
