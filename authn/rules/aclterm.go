package rules

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads the subset of Erlang terms an acl.conf is written in (what EMQX loads
// with file:consult): atoms, quoted atoms, strings, <<"binaries">>, integers, tuples and
// lists, each form ending with ".", and "%" comments.

type termKind uint8

const (
	termAtom termKind = iota
	termString
	termInt
	termTuple
	termList
)

type term struct {
	kind  termKind
	text  string // atom name or string value
	num   int
	elems []term // tuple or list elements
	line  int
}

// maxTermDepth bounds nesting so that hostile input cannot recurse without end. A rule
// needs about six levels, and each 'and'/'or' two more.
const maxTermDepth = 100

// aclComment is a "%" comment; ownLine tells it was alone on its line.
type aclComment struct {
	line    int
	text    string
	ownLine bool
}

// termReader reads forms from an acl.conf. It is not resumable: acl.conf files are
// imported whole.
type termReader struct {
	src      string
	pos      int
	line     int
	lineCode bool // the current line has had something other than blanks
	comments []aclComment
}

func newTermReader(src string) *termReader {
	// Editors on Windows may start the file with a byte order mark.
	return &termReader{src: strings.TrimPrefix(src, "\ufeff"), line: 1}
}

func (r *termReader) errorf(line int, format string, args ...any) error {
	return &SyntaxError{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// skipBlank skips white space and comments, recording the comments.
func (r *termReader) skipBlank() {
	for r.pos < len(r.src) {
		switch c := r.src[r.pos]; c {
		case '\n':
			r.line++
			r.lineCode = false
			r.pos++
		case ' ', '\t', '\r', '\f', '\v':
			r.pos++
		case '%':
			end := strings.IndexByte(r.src[r.pos:], '\n')
			if end < 0 {
				end = len(r.src) - r.pos
			}
			r.comments = append(r.comments, aclComment{
				line: r.line, text: commentText(r.src[r.pos : r.pos+end]), ownLine: !r.lineCode,
			})
			r.pos += end
		default:
			return
		}
	}
}

// commentText strips the "%" marks and the one space after them, and trailing blanks.
func commentText(s string) string {
	s = strings.TrimLeft(s, "%")
	s = strings.TrimPrefix(s, " ")
	return strings.TrimRight(s, " \t\r\f\v")
}

// atEOF skips blanks and reports whether the input is used up.
func (r *termReader) atEOF() bool {
	r.skipBlank()
	return r.pos >= len(r.src)
}

// expectPunct consumes the punctuation p, or fails naming what was expected instead.
func (r *termReader) expectPunct(p byte, what string) error {
	r.skipBlank()
	if r.pos < len(r.src) && r.src[r.pos] == p {
		r.pos++
		r.lineCode = true
		return nil
	}
	return r.errorf(r.line, "expected %s, got %s", what, r.describeNext())
}

// describeNext names what is at the read position, for error messages.
func (r *termReader) describeNext() string {
	if r.pos >= len(r.src) {
		return "end of file"
	}
	rest := r.src[r.pos:]
	end := strings.IndexAny(rest, " \t\r\n")
	if isAtomChar(rest[0]) {
		// A name ends at the first character that cannot be part of it.
		end = strings.IndexFunc(rest, func(c rune) bool { return c > 0x7f || !isAtomChar(byte(c)) })
	}
	if end >= 0 {
		rest = rest[:end]
	}
	if len(rest) > 20 {
		rest = rest[:20] + "..."
	}
	return strconv.Quote(rest)
}

// readForm reads one term followed by ".".
func (r *termReader) readForm() (term, error) {
	t, err := r.readTerm(0)
	if err != nil {
		return term{}, err
	}
	if err := r.expectPunct('.', `"." after the rule`); err != nil {
		return term{}, err
	}
	return t, nil
}

func (r *termReader) readTerm(depth int) (term, error) {
	r.skipBlank()
	if depth > maxTermDepth {
		return term{}, r.errorf(r.line, "terms nested more than %d deep", maxTermDepth)
	}
	if r.pos >= len(r.src) {
		return term{}, r.errorf(r.line, "expected a term, got end of file")
	}
	r.lineCode = true
	line := r.line
	c := r.src[r.pos]
	switch {
	case c == '{':
		r.pos++
		elems, err := r.readElems('}', depth)
		return term{kind: termTuple, elems: elems, line: line}, err
	case c == '[':
		r.pos++
		elems, err := r.readElems(']', depth)
		return term{kind: termList, elems: elems, line: line}, err
	case c == '"':
		s, err := r.readStrings()
		return term{kind: termString, text: s, line: line}, err
	case strings.HasPrefix(r.src[r.pos:], "<<"):
		s, err := r.readBinary()
		return term{kind: termString, text: s, line: line}, err
	case c == '\'':
		r.pos++
		s, err := r.readQuoted('\'')
		return term{kind: termAtom, text: s, line: line}, err
	case c >= 'a' && c <= 'z':
		start := r.pos
		for r.pos < len(r.src) && isAtomChar(r.src[r.pos]) {
			r.pos++
		}
		return term{kind: termAtom, text: r.src[start:r.pos], line: line}, nil
	case c >= '0' && c <= '9':
		start := r.pos
		for r.pos < len(r.src) && r.src[r.pos] >= '0' && r.src[r.pos] <= '9' {
			r.pos++
		}
		n, err := strconv.Atoi(r.src[start:r.pos])
		if err != nil {
			return term{}, r.errorf(line, "integer %s out of range", r.src[start:r.pos])
		}
		return term{kind: termInt, num: n, line: line}, nil
	case c >= 'A' && c <= 'Z' || c == '_':
		return term{}, r.errorf(line, "expected a term, got the variable %s: strings take double quotes", r.describeNext())
	}
	return term{}, r.errorf(line, "expected a term, got %s", r.describeNext())
}

func isAtomChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@'
}

// readElems reads comma-separated terms up to the closing bracket.
func (r *termReader) readElems(closing byte, depth int) ([]term, error) {
	var elems []term
	r.skipBlank()
	if r.pos < len(r.src) && r.src[r.pos] == closing {
		r.pos++
		r.lineCode = true
		return elems, nil
	}
	for {
		t, err := r.readTerm(depth + 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, t)
		r.skipBlank()
		if r.pos < len(r.src) && r.src[r.pos] == closing {
			r.pos++
			r.lineCode = true
			return elems, nil
		}
		if err := r.expectPunct(',', fmt.Sprintf("%q or %q", ',', closing)); err != nil {
			return nil, err
		}
	}
}

// readStrings reads a string literal and any adjacent ones, which Erlang joins.
func (r *termReader) readStrings() (string, error) {
	var b strings.Builder
	for {
		r.pos++ // the opening quote
		s, err := r.readQuoted('"')
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		r.skipBlank()
		if r.pos >= len(r.src) || r.src[r.pos] != '"' {
			return b.String(), nil
		}
	}
}

// readBinary reads <<"text">> or <<"text", "more">>, which EMQX accepts wherever a string
// goes.
func (r *termReader) readBinary() (string, error) {
	r.pos += len("<<")
	var b strings.Builder
	for first := true; ; first = false {
		r.skipBlank()
		if strings.HasPrefix(r.src[r.pos:], ">>") {
			r.pos += len(">>")
			return b.String(), nil
		}
		if !first {
			if err := r.expectPunct(',', `"," or ">>" in a binary`); err != nil {
				return "", err
			}
			r.skipBlank()
		}
		if r.pos >= len(r.src) || r.src[r.pos] != '"' {
			return "", r.errorf(r.line, `expected a string in a binary, got %s`, r.describeNext())
		}
		s, err := r.readStrings()
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
}

// readQuoted reads up to the closing quote, decoding Erlang escapes.
func (r *termReader) readQuoted(quote byte) (string, error) {
	start := r.line
	var b strings.Builder
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		r.pos++
		switch c {
		case quote:
			return b.String(), nil
		case '\n':
			r.line++
			b.WriteByte(c)
		case '\\':
			if err := r.readEscape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
		}
	}
	if quote == '\'' {
		return "", r.errorf(start, "unterminated quoted atom")
	}
	return "", r.errorf(start, "unterminated string")
}

// readEscape decodes the escape after a backslash (Erlang reference manual, "Escape
// Sequences"). An unknown escape stands for the character itself, as in Erlang.
func (r *termReader) readEscape(b *strings.Builder) error {
	if r.pos >= len(r.src) {
		return r.errorf(r.line, "unterminated escape sequence")
	}
	c := r.src[r.pos]
	r.pos++
	if e, ok := simpleEscape(c); ok {
		b.WriteByte(e)
		return nil
	}
	switch {
	case c >= '0' && c <= '7':
		n := int(c - '0')
		for i := 0; i < 2 && r.pos < len(r.src) && r.src[r.pos] >= '0' && r.src[r.pos] <= '7'; i++ {
			n = n*8 + int(r.src[r.pos]-'0')
			r.pos++
		}
		b.WriteRune(rune(n))
	case c == 'x':
		return r.readHexEscape(b)
	case c == '^':
		if r.pos >= len(r.src) {
			return r.errorf(r.line, "unterminated escape sequence")
		}
		b.WriteByte(r.src[r.pos] & 0x1f)
		r.pos++
	case c == '\n':
		r.line++
		b.WriteByte(c)
	default:
		b.WriteByte(c)
	}
	return nil
}

func simpleEscape(c byte) (byte, bool) {
	switch c {
	case 'b':
		return '\b', true
	case 'd':
		return 0x7f, true
	case 'e':
		return 0x1b, true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 's':
		return ' ', true
	case 't':
		return '\t', true
	case 'v':
		return '\v', true
	}
	return 0, false
}

// readHexEscape decodes \xHH or \x{H...} into UTF-8.
func (r *termReader) readHexEscape(b *strings.Builder) error {
	var digits string
	if strings.HasPrefix(r.src[r.pos:], "{") {
		end := strings.IndexByte(r.src[r.pos:], '}')
		if end < 0 {
			return r.errorf(r.line, `unterminated \x{...} escape`)
		}
		digits = r.src[r.pos+1 : r.pos+end]
		r.pos += end + 1
	} else {
		if r.pos+2 > len(r.src) {
			return r.errorf(r.line, `\x needs two hex digits`)
		}
		digits = r.src[r.pos : r.pos+2]
		r.pos += 2
	}
	n, err := strconv.ParseUint(digits, 16, 32)
	if err != nil || n > utf8.MaxRune {
		return r.errorf(r.line, `bad \x escape %q`, digits)
	}
	b.WriteRune(rune(n))
	return nil
}

// describe names a term for error messages.
func (t term) describe() string {
	switch t.kind {
	case termAtom:
		return "the atom " + t.text
	case termString:
		return "the string " + strconv.Quote(t.text)
	case termInt:
		return "the integer " + strconv.Itoa(t.num)
	case termTuple:
		return fmt.Sprintf("a tuple of %d elements", len(t.elems))
	}
	return fmt.Sprintf("a list of %d elements", len(t.elems))
}

func (t term) isAtom(names ...string) bool {
	if t.kind != termAtom {
		return false
	}
	for _, n := range names {
		if t.text == n {
			return true
		}
	}
	return false
}
