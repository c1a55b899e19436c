package stomp

import (
	"bytes"
	"strconv"
)

// Header is one header line, in wire order.
type Header struct{ Key, Value string }

// Frame is one STOMP frame. Command "" never appears in a returned frame.
type Frame struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named key.
// STOMP 1.2: if a header is repeated, only the first occurrence is used.
func (f *Frame) Get(key string) (string, bool) {
	for _, h := range f.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

// Value is Get without the presence flag.
func (f *Frame) Value(key string) string {
	v, _ := f.Get(key)
	return v
}

// Set replaces the value of the first header named key, or appends the header.
func (f *Frame) Set(key, value string) {
	for i := range f.Headers {
		if f.Headers[i].Key == key {
			f.Headers[i].Value = value
			return
		}
	}
	f.Headers = append(f.Headers, Header{key, value})
}

// Limits are the gateway's frame limits. A zero field means no limit.
type Limits struct {
	MaxHeaders      int // more header lines than this → ErrTooManyHeaders
	MaxHeaderLength int // len(key)+len(value) after unescaping above this → ErrTooLongHeader
	MaxBodyLength   int // body longer than this → ErrTooLongBody
}

// DefaultLimits returns EMQX's defaults (frame.max_headers, max_headers_length, max_body_length).
func DefaultLimits() Limits {
	return Limits{MaxHeaders: 10, MaxHeaderLength: 1024, MaxBodyLength: 65536}
}

// ParseError is a frame error. Error() is the reason sent to the client as
// "Frame error: <reason>".
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return e.Reason }

// Frame errors returned by Parser.Next. Compare with ==.
var (
	ErrTooManyHeaders       = &ParseError{"too_many_headers"}
	ErrTooLongHeader        = &ParseError{"too_long_header"}
	ErrTooLongBody          = &ParseError{"too_long_body"}
	ErrInvalidCommand       = &ParseError{"invalid command"}
	ErrHeaderNoColon        = &ParseError{"header line without colon"}
	ErrInvalidEscape        = &ParseError{"invalid escape"}
	ErrInvalidContentLength = &ParseError{"invalid content-length"}
	ErrMissingNUL           = &ParseError{"missing NUL after body"}
)

// maxCommandLen bounds the command line so garbage is rejected after a few bytes.
const maxCommandLen = 32

type phase uint8

const (
	phaseIdle    phase = iota // between frames: heart-beats allowed
	phaseCommand              // reading the command line
	phaseHeaders              // reading header lines
	phaseBody                 // reading the body
)

// Parser parses frames out of a byte stream; see Next. The zero value parses
// with no limits and STOMP 1.2 escaping.
type Parser struct {
	Limits  Limits
	Version string // "1.0", "1.1", "1.2"; empty means 1.2 rules

	// Resumable state. All offsets are relative to the start of the frame in
	// progress, which is buf[0] on the next call whenever phase != phaseIdle.
	phase    phase
	pos      int  // first byte not yet consumed into the frame
	scan     int  // bytes before this (and after pos) are known to hold no terminator
	unescape bool // decode header escapes for this frame
	crEscape bool // "\r" is a valid escape (1.2 only)
	cmd      string
	hdr      []byte // decoded keys and values, concatenated
	offs     []int  // per header: end of key, end of value in hdr
	frame    *Frame // built when the header section ends
	clen     int    // content-length, or -1 when absent
}

func (p *Parser) reset() {
	p.phase = phaseIdle
	p.pos, p.scan, p.clen = 0, 0, -1
	p.cmd, p.frame = "", nil
	// Keep scratch space unless a limitless peer made it huge.
	if cap(p.hdr) > 64<<10 {
		p.hdr = nil
	}
	p.hdr = p.hdr[:0]
	p.offs = p.offs[:0]
}

// Next parses the next frame from buf, the caller's whole unconsumed input.
//
// It returns (frame, n, nil) when a frame is complete: n counts leading
// heart-beat EOLs, the frame, its NUL and any complete EOLs right after it.
// It returns (nil, n, nil) with n > 0 when only heart-beat EOLs could be
// consumed (the rest, if any, is an incomplete frame), (nil, 0, nil) when it
// needs more bytes, and (nil, 0, err) with a *ParseError on a frame error,
// after which the connection should be closed.
//
// Between calls the caller must pass the same unconsumed bytes again, with
// more appended; the parser remembers how far it got so that a large body
// arriving in small pieces is scanned once. The returned frame never aliases buf.
func (p *Parser) Next(buf []byte) (*Frame, int, error) {
	if p.phase != phaseIdle && (p.pos > len(buf) || p.scan > len(buf)) {
		// The caller broke the contract (shorter buffer); start over rather
		// than index out of range.
		p.reset()
	}
	start := 0
	if p.phase == phaseIdle {
		// STOMP 1.2: EOLs between frames are heart-beats.
		start = skipEOLs(buf)
		if start == len(buf) || (buf[start] == '\r' && start+1 == len(buf)) {
			return nil, start, nil
		}
		p.reset()
		p.phase = phaseCommand
	}
	f, n, err := p.parse(buf[start:])
	if err != nil {
		p.reset()
		return nil, 0, err
	}
	if f == nil {
		return nil, start, nil
	}
	p.reset()
	n += start
	n += skipEOLs(buf[n:]) // STOMP 1.2: the NUL may be followed by EOLs
	return f, n, nil
}

// skipEOLs returns the length of the run of complete "\n" / "\r\n" at the start of b.
func skipEOLs(b []byte) int {
	i := 0
	for i < len(b) {
		switch {
		case b[i] == '\n':
			i++
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// parse advances the frame that starts at b[0]. It returns the frame and its
// length up to and including the NUL, or nil when more bytes are needed.
func (p *Parser) parse(b []byte) (*Frame, int, error) {
	if p.phase == phaseCommand {
		ok, err := p.parseCommand(b)
		if !ok || err != nil {
			return nil, 0, err
		}
	}
	if p.phase == phaseHeaders {
		ok, err := p.parseHeaders(b)
		if !ok || err != nil {
			return nil, 0, err
		}
	}
	return p.parseBody(b)
}

func (p *Parser) parseCommand(b []byte) (bool, error) {
	for i := p.pos; i < len(b); i++ {
		c := b[i]
		end, next := -1, 0
		switch {
		case c >= 'A' && c <= 'Z':
			if i >= maxCommandLen {
				return false, ErrInvalidCommand
			}
			continue
		case c == '\n' && i > 0:
			end, next = i, i+1
		case c == '\r' && i > 0:
			if i+1 == len(b) {
				p.pos = i
				return false, nil
			}
			if b[i+1] != '\n' {
				return false, ErrInvalidCommand
			}
			end, next = i, i+2
		default:
			return false, ErrInvalidCommand
		}
		p.cmd = commandString(b[:end])
		// STOMP 1.2: CONNECT and CONNECTED frames do not escape, for 1.0 compatibility.
		isConnect := p.cmd == "CONNECT" || p.cmd == "CONNECTED"
		switch p.Version {
		case "1.0": // STOMP 1.0 has no escaping
			p.unescape, p.crEscape = false, false
		case "1.1": // STOMP 1.1: \n \c \\ only
			p.unescape, p.crEscape = !isConnect, false
		default:
			p.unescape, p.crEscape = !isConnect, true
		}
		p.pos, p.scan = next, next
		p.phase = phaseHeaders
		return true, nil
	}
	p.pos = len(b)
	return false, nil
}

// commandString avoids an allocation for the commands of STOMP 1.2.
func commandString(b []byte) string {
	switch string(b) {
	case "SEND":
		return "SEND"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "UNSUBSCRIBE":
		return "UNSUBSCRIBE"
	case "ACK":
		return "ACK"
	case "NACK":
		return "NACK"
	case "BEGIN":
		return "BEGIN"
	case "COMMIT":
		return "COMMIT"
	case "ABORT":
		return "ABORT"
	case "DISCONNECT":
		return "DISCONNECT"
	case "CONNECT":
		return "CONNECT"
	case "STOMP":
		return "STOMP"
	case "CONNECTED":
		return "CONNECTED"
	case "MESSAGE":
		return "MESSAGE"
	case "RECEIPT":
		return "RECEIPT"
	case "ERROR":
		return "ERROR"
	}
	return string(b)
}

// maxLine is the longest header line (without its '\n') that can still
// satisfy MaxHeaderLength, or 0 for no limit: each escape is two raw bytes
// for one decoded byte, plus the colon and a '\r'.
func (p *Parser) maxLine() int {
	m := p.Limits.MaxHeaderLength
	if m <= 0 {
		return 0
	}
	if p.unescape {
		m *= 2
	}
	return m + 2
}

func (p *Parser) parseHeaders(b []byte) (bool, error) {
	maxLine := p.maxLine()
	for {
		rest := b[p.pos:]
		if len(rest) == 0 {
			return false, nil
		}
		// Fail as soon as the first byte shows one header line too many.
		if p.Limits.MaxHeaders > 0 && len(p.offs)/2 >= p.Limits.MaxHeaders {
			if (rest[0] != '\n' && rest[0] != '\r') || (rest[0] == '\r' && len(rest) > 1 && rest[1] != '\n') {
				return false, ErrTooManyHeaders
			}
		}
		window := b[p.scan:]
		if maxLine > 0 && len(b)-p.pos > maxLine+1 {
			window = b[p.scan : p.pos+maxLine+1]
		}
		i := bytes.IndexByte(window, '\n')
		if i < 0 {
			p.scan += len(window)
			if maxLine > 0 && p.scan-p.pos > maxLine {
				return false, ErrTooLongHeader
			}
			return false, nil
		}
		nl := p.scan + i
		line := b[p.pos:nl]
		p.pos, p.scan = nl+1, nl+1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			return true, p.endHeaders()
		}
		if err := p.addHeader(line); err != nil {
			return false, err
		}
	}
}

// addHeader decodes one non-empty header line; parseHeaders has already
// rejected a line beyond MaxHeaders.
func (p *Parser) addHeader(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return ErrHeaderNoColon
	}
	start := len(p.hdr)
	var ok bool
	// Value is everything after the first colon.
	if p.hdr, ok = p.appendDecoded(p.hdr, line[:colon]); !ok {
		return ErrInvalidEscape
	}
	keyEnd := len(p.hdr)
	if p.hdr, ok = p.appendDecoded(p.hdr, line[colon+1:]); !ok {
		return ErrInvalidEscape
	}
	if m := p.Limits.MaxHeaderLength; m > 0 && len(p.hdr)-start > m {
		return ErrTooLongHeader
	}
	p.offs = append(p.offs, keyEnd, len(p.hdr))
	return nil
}

// appendDecoded appends src to dst, decoding escapes when the frame uses them.
// STOMP 1.2: value escaping; undefined escape sequences are a fatal error.
func (p *Parser) appendDecoded(dst, src []byte) ([]byte, bool) {
	if !p.unescape || bytes.IndexByte(src, '\\') < 0 {
		return append(dst, src...), true
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i == len(src) {
			return dst, false
		}
		switch src[i] {
		case 'n':
			dst = append(dst, '\n')
		case 'c':
			dst = append(dst, ':')
		case '\\':
			dst = append(dst, '\\')
		case 'r':
			if !p.crEscape {
				return dst, false
			}
			dst = append(dst, '\r')
		default:
			return dst, false
		}
	}
	return dst, true
}

// endHeaders builds the frame from the decoded headers with one string
// allocation and reads content-length.
func (p *Parser) endHeaders() error {
	f := &Frame{Command: p.cmd}
	if n := len(p.offs) / 2; n > 0 {
		s := string(p.hdr)
		f.Headers = make([]Header, n)
		prev := 0
		for i := range f.Headers {
			k, v := p.offs[2*i], p.offs[2*i+1]
			f.Headers[i] = Header{s[prev:k], s[k:v]}
			prev = v
		}
	}
	p.clen = -1
	// STOMP 1.2: repeated headers, the first one wins.
	if v, ok := f.Get("content-length"); ok {
		n, ok := parseContentLength(v)
		if !ok {
			return ErrInvalidContentLength
		}
		if m := p.Limits.MaxBodyLength; m > 0 && n > m {
			return ErrTooLongBody
		}
		p.clen = n
	}
	p.frame = f
	p.scan = p.pos
	p.phase = phaseBody
	return nil
}

// parseContentLength accepts a non-empty run of decimal digits that fits an int.
func parseContentLength(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (p *Parser) parseBody(b []byte) (*Frame, int, error) {
	bodyStart := p.pos
	var end int
	if p.clen >= 0 {
		// STOMP 1.2: content-length octets, which may include NULs, then a NUL.
		end = bodyStart + p.clen
		if len(b) <= end {
			return nil, 0, nil
		}
		if b[end] != 0 {
			return nil, 0, ErrMissingNUL
		}
	} else {
		maxBody := p.Limits.MaxBodyLength
		window := b[p.scan:]
		if maxBody > 0 && len(b)-bodyStart > maxBody+1 {
			window = b[p.scan : bodyStart+maxBody+1]
		}
		i := bytes.IndexByte(window, 0)
		if i < 0 {
			p.scan += len(window)
			if maxBody > 0 && p.scan-bodyStart > maxBody {
				return nil, 0, ErrTooLongBody
			}
			return nil, 0, nil
		}
		end = p.scan + i
	}
	f := p.frame
	if end > bodyStart {
		f.Body = bytes.Clone(b[bodyStart:end])
	}
	return f, end + 1, nil
}

// AppendFrame appends the wire form of f to dst.
//
// With escape, header keys and values are escaped per STOMP 1.2 (\\ \n \c \r);
// pass false for STOMP 1.0 sessions. CONNECT and CONNECTED frames are never
// escaped whatever escape says (STOMP 1.2), and unescaped output replaces LF
// with a space so that a header cannot inject lines into the frame.
//
// A content-length header is added when the body is non-empty and f has none;
// if f's first content-length does not state len(f.Body), the real length is
// written instead so the frame cannot desynchronise the stream.
func AppendFrame(dst []byte, f *Frame, escape bool) []byte {
	if f.Command == "CONNECT" || f.Command == "CONNECTED" {
		escape = false
	}
	dst = append(dst, f.Command...)
	dst = append(dst, '\n')
	hasLen := false
	for _, h := range f.Headers {
		v := h.Value
		if !hasLen && h.Key == "content-length" {
			hasLen = true
			if n, ok := parseContentLength(v); !ok || n != len(f.Body) {
				v = strconv.Itoa(len(f.Body))
			}
		}
		dst = appendHeaderText(dst, h.Key, escape)
		dst = append(dst, ':')
		dst = appendHeaderText(dst, v, escape)
		dst = append(dst, '\n')
	}
	if !hasLen && len(f.Body) > 0 {
		dst = append(dst, "content-length:"...)
		dst = strconv.AppendInt(dst, int64(len(f.Body)), 10)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, f.Body...)
	return append(dst, 0)
}

func appendHeaderText(dst []byte, s string, escape bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escape && c == '\\':
			dst = append(dst, '\\', '\\')
		case escape && c == '\n':
			dst = append(dst, '\\', 'n')
		case escape && c == ':':
			dst = append(dst, '\\', 'c')
		case escape && c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
