package httpauth

import (
	"strings"
)

// segment is one piece of a template: literal text, or a placeholder to substitute.
type segment struct {
	text  string // literal text, or the placeholder's name
	isVar bool
}

// template is a string with ${name} placeholders, parsed once when an authenticator is
// built. The syntax is EMQX's: ${name} with name made of [A-Za-z0-9._] (an optional
// leading "." is dropped), and ${$} for a literal "$". Anything else, such as "${ x }" or
// an unclosed "${", is literal text.
type template []segment

// parseTemplate splits s into literal text and placeholders. It never fails: whether the
// placeholder names are known is checked separately, against the set the caller allows.
func parseTemplate(s string) template {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for len(s) > 0 {
		i := strings.Index(s, "${")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		name, n, ok := scanPlaceholder(s[i:])
		switch {
		case ok:
			flush()
			t = append(t, segment{text: name, isVar: true})
			s = s[i+n:]
		case strings.HasPrefix(s[i:], "${$}"):
			lit.WriteByte('$')
			s = s[i+len("${$}"):]
		default:
			lit.WriteByte('$')
			s = s[i+1:]
		}
	}
	flush()
	return t
}

// scanPlaceholder reads "${name}" at the start of s, returning the name and the length
// of the whole placeholder.
func scanPlaceholder(s string) (name string, n int, ok bool) {
	start := len("${")
	if start < len(s) && s[start] == '.' {
		start++
	}
	end := start
	for end < len(s) && isNameByte(s[end]) {
		end++
	}
	if end >= len(s) || s[end] != '}' {
		return "", 0, false
	}
	return s[start:end], end + 1, true
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_'
}

// vars lists the placeholder names in t, in order, with repeats.
func (t template) vars() []string {
	var names []string
	for _, s := range t {
		if s.isVar {
			names = append(names, s.text)
		}
	}
	return names
}

// render substitutes every placeholder with escape(value(name)); literal text is kept as
// written.
func (t template) render(value func(name string) string, escape func(string) string) string {
	if len(t) == 1 && !t[0].isVar {
		return t[0].text
	}
	var b strings.Builder
	for _, s := range t {
		if !s.isVar {
			b.WriteString(s.text)
			continue
		}
		v := value(s.text)
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// String writes t back in template syntax, so that parsing the result gives t again.
// A "$" in literal text that is followed by "{" is written as ${$}.
func (t template) String() string {
	var b strings.Builder
	for _, s := range t {
		if s.isVar {
			// A name that itself starts with "." needs the optional leading dot written
			// out, or parsing would drop its first character.
			if strings.HasPrefix(s.text, ".") {
				b.WriteString("${." + s.text + "}")
			} else {
				b.WriteString("${" + s.text + "}")
			}
			continue
		}
		for i := 0; i < len(s.text); i++ {
			if s.text[i] == '$' && i+1 < len(s.text) && s.text[i+1] == '{' {
				b.WriteString("${$}")
				continue
			}
			b.WriteByte(s.text[i])
		}
	}
	return b.String()
}
