package stomp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

type parseCase struct {
	name    string
	in      string
	version string  // Parser.Version
	limits  *Limits // nil: DefaultLimits
	want    *Frame  // nil with wantErr nil: incomplete, (nil, 0, nil)
	wantErr error
	wantN   int // checked when want != nil; 0 means len(in)
}

var smallLimits = &Limits{MaxHeaders: 2, MaxHeaderLength: 8, MaxBodyLength: 16}

var parseCases = []parseCase{
	{
		name: "connect 1.2",
		in:   "CONNECT\naccept-version:1.2\nhost:stomp.example\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\x00",
		want: &Frame{Command: "CONNECT", Headers: []Header{
			{"accept-version", "1.2"}, {"host", "stomp.example"}, {"login", "guest"},
			{"passcode", "guest"}, {"heart-beat", "0,0"},
		}},
	},
	{
		name: "stomp command",
		in:   "STOMP\naccept-version:1.1,1.2\nhost:h\n\n\x00",
		want: &Frame{Command: "STOMP", Headers: []Header{{"accept-version", "1.1,1.2"}, {"host", "h"}}},
	},
	{
		name: "send with content-length and NUL in body",
		in:   "SEND\ndestination:/queue/a\ncontent-length:5\n\nab\x00cd\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"destination", "/queue/a"}, {"content-length", "5"}},
			Body: []byte("ab\x00cd")},
	},
	{
		name: "send with content-length zero",
		in:   "SEND\ndestination:/queue/a\ncontent-length:0\n\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"destination", "/queue/a"}, {"content-length", "0"}}},
	},
	{
		name: "send without content-length",
		in:   "SEND\ndestination:/queue/a\n\nhello world\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"destination", "/queue/a"}}, Body: []byte("hello world")},
	},
	{
		name: "no headers no body",
		in:   "DISCONNECT\n\n\x00",
		want: &Frame{Command: "DISCONNECT"},
	},
	{
		name: "crlf line endings",
		in:   "SEND\r\ndestination:/queue/a\r\nreceipt:77\r\n\r\nbody\r\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"destination", "/queue/a"}, {"receipt", "77"}},
			Body: []byte("body\r\n")},
	},
	{
		name:  "heart-beats before frame",
		in:    "\n\r\n\n\r\nSUBSCRIBE\nid:0\ndestination:/topic/t\n\n\x00",
		want:  &Frame{Command: "SUBSCRIBE", Headers: []Header{{"id", "0"}, {"destination", "/topic/t"}}},
		wantN: len("\n\r\n\n\r\nSUBSCRIBE\nid:0\ndestination:/topic/t\n\n\x00"),
	},
	{
		name: "trailing EOLs consumed",
		in:   "ACK\nid:1\n\n\x00\n\r\n\n",
		want: &Frame{Command: "ACK", Headers: []Header{{"id", "1"}}},
	},
	{
		name:  "trailing lone CR left for later",
		in:    "ACK\nid:1\n\n\x00\n\r",
		want:  &Frame{Command: "ACK", Headers: []Header{{"id", "1"}}},
		wantN: len("ACK\nid:1\n\n\x00\n"),
	},
	{
		name: "repeated headers kept in order",
		in:   "SEND\nfoo:1\ndestination:/a\nfoo:2\n\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"foo", "1"}, {"destination", "/a"}, {"foo", "2"}}},
	},
	{
		name: "repeated content-length first wins",
		in:   "SEND\ncontent-length:2\ncontent-length:9\n\nab\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"content-length", "2"}, {"content-length", "9"}}, Body: []byte("ab")},
	},
	{
		name: "value after first colon",
		in:   "SEND\nurl:http://x:80/a\n\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"url", "http://x:80/a"}}},
	},
	{
		name: "empty value and case kept",
		in:   "SEND\nFoo:\nfoo:x\n\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"Foo", ""}, {"foo", "x"}}},
	},
	{
		name: "escapes decoded 1.2",
		in:   "SEND\na\\cb:x\\ny\\cz\\\\w\\r\n\n\x00",
		want: &Frame{Command: "SEND", Headers: []Header{{"a:b", "x\ny:z\\w\r"}}},
	},
	{
		name:    "escapes decoded 1.1",
		in:      "SEND\nk:x\\ny\\cz\\\\w\n\n\x00",
		version: "1.1",
		want:    &Frame{Command: "SEND", Headers: []Header{{"k", "x\ny:z\\w"}}},
	},
	{
		name:    "cr escape invalid in 1.1",
		in:      "SEND\nk:x\\r\n\n\x00",
		version: "1.1",
		wantErr: ErrInvalidEscape,
	},
	{
		name: "no unescaping for CONNECT",
		in:   "CONNECT\nlogin:a\\b\npasscode:x\\ny\n\n\x00",
		want: &Frame{Command: "CONNECT", Headers: []Header{{"login", "a\\b"}, {"passcode", "x\\ny"}}},
	},
	{
		name: "no unescaping for CONNECTED",
		in:   "CONNECTED\nserver:x\\cy\n\n\x00",
		want: &Frame{Command: "CONNECTED", Headers: []Header{{"server", "x\\cy"}}},
	},
	{
		name:    "no unescaping for 1.0",
		in:      "SEND\ndestination:/a\\b\nk:x\\ny\\q\n\n\x00",
		version: "1.0",
		want:    &Frame{Command: "SEND", Headers: []Header{{"destination", "/a\\b"}, {"k", "x\\ny\\q"}}},
	},
	{
		name:    "bad escape",
		in:      "SEND\ndestination:/a\\tb\n\n\x00",
		wantErr: ErrInvalidEscape,
	},
	{
		name:    "trailing backslash",
		in:      "SEND\nk:v\\\n\n\x00",
		wantErr: ErrInvalidEscape,
	},
	{
		name:    "bad escape in key",
		in:      "SEND\nk\\x:v\n\n\x00",
		wantErr: ErrInvalidEscape,
	},
	{
		name:    "header without colon",
		in:      "SEND\ndestination /queue/a\n\nhi\x00",
		wantErr: ErrHeaderNoColon,
	},
	{
		name:    "header without colon not terminated",
		in:      "SEND\nthis is not a header\n",
		wantErr: ErrHeaderNoColon,
	},
	{
		name:    "lowercase command",
		in:      "send\n\n\x00",
		wantErr: ErrInvalidCommand,
	},
	{
		name:    "garbage command",
		in:      "GET / HTTP/1.1\r\n",
		wantErr: ErrInvalidCommand,
	},
	{
		name:    "command with CR not before LF",
		in:      "SEND\rX\n\n\x00",
		wantErr: ErrInvalidCommand,
	},
	{
		name:    "CR that is not heart-beat",
		in:      "\r\r\n",
		wantErr: ErrInvalidCommand,
	},
	{
		name:    "NUL instead of command",
		in:      "\x00",
		wantErr: ErrInvalidCommand,
	},
	{
		name:    "command too long",
		in:      strings.Repeat("A", maxCommandLen+1),
		wantErr: ErrInvalidCommand,
	},
	{
		name: "command at max length",
		in:   strings.Repeat("A", maxCommandLen) + "\n\n\x00",
		want: &Frame{Command: strings.Repeat("A", maxCommandLen)},
	},
	{
		name: "unknown command accepted",
		in:   "FOO\n\n\x00",
		want: &Frame{Command: "FOO"},
	},
	{
		name:    "content-length not a number",
		in:      "SEND\ncontent-length:abc\n\n\x00",
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "content-length negative",
		in:      "SEND\ncontent-length:-1\n\n\x00",
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "content-length empty",
		in:      "SEND\ncontent-length:\n\n\x00",
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "content-length with space",
		in:      "SEND\ncontent-length: 2\n\nab\x00",
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "content-length overflow without limit",
		in:      "SEND\ncontent-length:99999999999999999999999\n\n",
		limits:  &Limits{},
		wantErr: ErrInvalidContentLength,
	},
	{
		name:    "content-length too large",
		in:      "SEND\ncontent-length:65537\n\n",
		wantErr: ErrTooLongBody,
	},
	{
		name:   "content-length at limit",
		in:     "SEND\ncontent-length:16\n\n0123456789abcdef\x00",
		limits: &Limits{MaxHeaderLength: 16, MaxBodyLength: 16},
		want:   &Frame{Command: "SEND", Headers: []Header{{"content-length", "16"}}, Body: []byte("0123456789abcdef")},
	},
	{
		name:    "too many headers",
		in:      "SEND\na:1\nb:2\nc:3\n\n\x00",
		limits:  smallLimits,
		wantErr: ErrTooManyHeaders,
	},
	{
		name:    "too many headers detected before line ends",
		in:      "SEND\na:1\nb:2\nc",
		limits:  smallLimits,
		wantErr: ErrTooManyHeaders,
	},
	{
		name:   "max headers with crlf",
		in:     "SEND\r\na:1\r\nb:2\r\n\r\n\x00",
		limits: smallLimits,
		want:   &Frame{Command: "SEND", Headers: []Header{{"a", "1"}, {"b", "2"}}},
	},
	{
		name:    "default limits too many headers",
		in:      "SEND\n" + strings.Repeat("h:v\n", 11) + "\n\x00",
		wantErr: ErrTooManyHeaders,
	},
	{
		name:    "too long header",
		in:      "SEND\nkey:123456\n\n\x00",
		limits:  smallLimits,
		wantErr: ErrTooLongHeader,
	},
	{
		name:   "header at max length after unescaping",
		in:     "SEND\nkey:\\n\\n\\c\\\\\\r\n\n\x00",
		limits: smallLimits,
		want:   &Frame{Command: "SEND", Headers: []Header{{"key", "\n\n:\\\r"}}},
	},
	{
		name:    "complete header line too long without colon",
		in:      "SEND\n" + strings.Repeat("x", 40) + "\n\n\x00",
		limits:  smallLimits,
		wantErr: ErrTooLongHeader,
	},
	{
		name: "one-letter command",
		in:   "X\r\n\r\n\x00",
		want: &Frame{Command: "X"},
	},
	{
		name:    "unterminated header line too long",
		in:      "SEND\nkey:" + strings.Repeat("x", 40),
		limits:  smallLimits,
		wantErr: ErrTooLongHeader,
	},
	{
		name:    "unterminated header too long with default limits",
		in:      "SEND\nk:" + strings.Repeat("x", 2*1024+1),
		wantErr: ErrTooLongHeader,
	},
	{
		name:    "body too long without NUL",
		in:      "SEND\n\n" + strings.Repeat("x", 17),
		limits:  smallLimits,
		wantErr: ErrTooLongBody,
	},
	{
		name:    "body too long with NUL",
		in:      "SEND\n\n" + strings.Repeat("x", 17) + "\x00",
		limits:  smallLimits,
		wantErr: ErrTooLongBody,
	},
	{
		name:   "body at limit without content-length",
		in:     "SEND\n\n" + strings.Repeat("x", 16) + "\x00",
		limits: smallLimits,
		want:   &Frame{Command: "SEND", Body: []byte(strings.Repeat("x", 16))},
	},
	{
		name:    "missing NUL after content-length body",
		in:      "SEND\ncontent-length:2\n\nabc\x00",
		wantErr: ErrMissingNUL,
	},
	{
		name:   "zero limits mean unlimited",
		in:     "SEND\n" + strings.Repeat("h:v\n", 50) + "\n" + strings.Repeat("b", 100000) + "\x00",
		limits: &Limits{},
		want: &Frame{Command: "SEND", Headers: func() []Header {
			h := make([]Header, 50)
			for i := range h {
				h[i] = Header{"h", "v"}
			}
			return h
		}(), Body: bytes.Repeat([]byte("b"), 100000)},
	},
	// Incomplete inputs: (nil, 0, nil).
	{name: "incomplete empty", in: ""},
	{name: "incomplete command", in: "SEN"},
	{name: "incomplete command CR", in: "SEND\r"},
	{name: "incomplete headers", in: "SEND\ndestination:/a"},
	{name: "incomplete header section", in: "SEND\ndestination:/a\n"},
	{name: "incomplete blank line CR", in: "SEND\ndestination:/a\n\r"},
	{name: "incomplete body", in: "SEND\n\nabc"},
	{name: "incomplete content-length body", in: "SEND\ncontent-length:4\n\nab\x00c"},
	{name: "incomplete missing final NUL", in: "SEND\ncontent-length:2\n\nab"},
	{name: "incomplete lone CR", in: "\r"},
}

func (c *parseCase) parser() *Parser {
	p := &Parser{Limits: DefaultLimits(), Version: c.version}
	if c.limits != nil {
		p.Limits = *c.limits
	}
	return p
}

func framesEqual(a, b *Frame) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Command != b.Command || len(a.Headers) != len(b.Headers) || !bytes.Equal(a.Body, b.Body) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i] != b.Headers[i] {
			return false
		}
	}
	return true
}

func fmtFrame(f *Frame) string {
	if f == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q %q %q", f.Command, f.Headers, f.Body)
}

func TestParseCases(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			p := c.parser()
			buf := []byte(c.in)
			f, n, err := p.Next(buf)
			if err != c.wantErr {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err != nil {
				if f != nil || n != 0 {
					t.Fatalf("error with frame %s n=%d", fmtFrame(f), n)
				}
				return
			}
			if c.want == nil {
				// Incomplete; only a lone heart-beat CR is pending here.
				if f != nil || n != 0 {
					t.Fatalf("got %s n=%d, want incomplete (nil, 0, nil)", fmtFrame(f), n)
				}
				return
			}
			if !framesEqual(f, c.want) {
				t.Fatalf("frame = %s\nwant    %s", fmtFrame(f), fmtFrame(c.want))
			}
			wantN := c.wantN
			if wantN == 0 {
				wantN = len(c.in)
			}
			if n != wantN {
				t.Fatalf("n = %d, want %d", n, wantN)
			}
			// The frame must not alias the caller's buffer.
			for i := range buf {
				buf[i] = 0xff
			}
			if !framesEqual(f, c.want) {
				t.Fatalf("frame changed after buffer reuse: %s", fmtFrame(f))
			}
		})
	}
}

// feed simulates a session: it appends each chunk to a reused buffer, calls
// Next until it stops consuming, and compacts the buffer in place (so any
// aliasing of buf by a returned frame would corrupt it).
func feed(t testing.TB, p *Parser, chunks [][]byte) ([]*Frame, error) {
	t.Helper()
	var frames []*Frame
	buf := make([]byte, 0, 16)
	for _, c := range chunks {
		buf = append(buf, c...)
		for {
			f, n, err := p.Next(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("n = %d out of range, len(buf) = %d", n, len(buf))
			}
			if err != nil {
				if f != nil || n != 0 {
					t.Fatalf("error %v with frame %s n=%d", err, fmtFrame(f), n)
				}
				return frames, err
			}
			if f != nil {
				if f.Command == "" {
					t.Fatalf("frame with empty command")
				}
				frames = append(frames, f)
			} else if n > 0 && bytes.IndexFunc(buf[:n], func(r rune) bool { return r != '\n' && r != '\r' }) >= 0 {
				t.Fatalf("nil frame consumed non-EOL bytes %q", buf[:n])
			}
			buf = append(buf[:0], buf[n:]...)
			if n == 0 {
				break
			}
		}
	}
	for i := range buf[:cap(buf)] {
		buf[:cap(buf)][i] = 0xee
	}
	return frames, nil
}

func TestParseSplit(t *testing.T) {
	for _, c := range parseCases {
		in := []byte(c.in)
		want, wantErr := feed(t, c.parser(), [][]byte{in})
		if len(in) > 5000 {
			// Byte-by-byte feeding of the big case is covered by the 2-piece splits below.
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			check := func(how string, chunks [][]byte) {
				t.Helper()
				got, err := feed(t, c.parser(), chunks)
				if err != wantErr {
					t.Fatalf("%s: err = %v, want %v", how, err, wantErr)
				}
				if len(got) != len(want) {
					t.Fatalf("%s: %d frames, want %d", how, len(got), len(want))
				}
				for i := range got {
					if !framesEqual(got[i], want[i]) {
						t.Fatalf("%s: frame %d = %s, want %s", how, i, fmtFrame(got[i]), fmtFrame(want[i]))
					}
				}
			}
			if c.want != nil && (len(want) != 1 || !framesEqual(want[0], c.want)) {
				t.Fatalf("one-shot feed = %v, want %s", want, fmtFrame(c.want))
			}
			var bytewise [][]byte
			for i := range in {
				bytewise = append(bytewise, in[i:i+1])
			}
			check("byte by byte", bytewise)
			for i := 0; i <= len(in); i++ {
				check(fmt.Sprintf("split at %d", i), [][]byte{in[:i], in[i:]})
			}
		})
	}
}

func TestParseSplitLarge(t *testing.T) {
	// Chunked feeding of the unlimited case, in odd-sized pieces.
	for _, c := range parseCases {
		if len(c.in) <= 5000 {
			continue
		}
		in := []byte(c.in)
		for _, size := range []int{1, 7, 1000, 4096} {
			var chunks [][]byte
			for i := 0; i < len(in); i += size {
				chunks = append(chunks, in[i:min(i+size, len(in))])
			}
			got, err := feed(t, c.parser(), chunks)
			if err != c.wantErr || len(got) != 1 || !framesEqual(got[0], c.want) {
				t.Fatalf("%s chunk %d: got %d frames err %v", c.name, size, len(got), err)
			}
		}
	}
}

func TestParseMultipleFrames(t *testing.T) {
	frames := []string{
		"CONNECT\naccept-version:1.2\nhost:h\n\n\x00\n",
		"\n\r\n",
		"SEND\ndestination:/a\ncontent-length:3\n\na\x00b\x00\r\n",
		"SUBSCRIBE\nid:1\ndestination:/b\n\n\x00",
		"SEND\ndestination:/c\n\nxyz\x00",
		"\n",
	}
	buf := []byte(strings.Join(frames, ""))
	type step struct {
		cmd string
		n   int
	}
	want := []step{
		{"CONNECT", len(frames[0]) + len(frames[1])}, // trailing EOLs are consumed with the frame
		{"SEND", len(frames[2])},
		{"SUBSCRIBE", len(frames[3])},
		{"SEND", len(frames[4]) + len(frames[5])},
	}
	var p Parser
	for i, w := range want {
		f, n, err := p.Next(buf)
		if err != nil || f == nil {
			t.Fatalf("step %d: frame %v err %v", i, f, err)
		}
		if f.Command != w.cmd || n != w.n {
			t.Fatalf("step %d: %s n=%d, want %s n=%d", i, f.Command, n, w.cmd, w.n)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("left over %q", buf)
	}
	if f, n, err := p.Next(buf); f != nil || n != 0 || err != nil {
		t.Fatalf("empty buffer: %v %d %v", f, n, err)
	}
}

func TestParseHeartbeatsOnly(t *testing.T) {
	var p Parser
	// Heart-beats followed by an incomplete frame: only the EOLs are consumed.
	buf := []byte("\n\r\n\nSEN")
	f, n, err := p.Next(buf)
	if f != nil || n != 4 || err != nil {
		t.Fatalf("got %v %d %v, want nil 4 nil", f, n, err)
	}
	buf = append(buf[n:], "D\n\n\x00"...)
	f, n, err = p.Next(buf)
	if err != nil || f == nil || f.Command != "SEND" || n != len(buf) {
		t.Fatalf("got %s %d %v", fmtFrame(f), n, err)
	}
	// A trailing CR waits for its LF.
	f, n, err = p.Next([]byte("\n\r"))
	if f != nil || n != 1 || err != nil {
		t.Fatalf("got %v %d %v, want nil 1 nil", f, n, err)
	}
}

func TestParseVersionSwitch(t *testing.T) {
	// The session negotiates the version from CONNECT, then sets Version.
	buf := []byte("CONNECT\naccept-version:1.0\nlogin:a\\b\n\n\x00SEND\ndestination:/a\\b\n\n\x00")
	var p Parser
	f, n, err := p.Next(buf)
	if err != nil || f.Value("login") != "a\\b" {
		t.Fatalf("connect: %s %v", fmtFrame(f), err)
	}
	p.Version = "1.0"
	f, _, err = p.Next(buf[n:])
	if err != nil || f.Value("destination") != "/a\\b" {
		t.Fatalf("send 1.0: %s %v", fmtFrame(f), err)
	}
	p.Version = "1.2"
	if _, _, err = p.Next(buf[n:]); err != ErrInvalidEscape {
		t.Fatalf("send 1.2: err %v, want %v", err, ErrInvalidEscape)
	}
}

// TestParseResumes checks that a body arriving in pieces is not rescanned.
func TestParseResumes(t *testing.T) {
	p := Parser{Limits: Limits{}}
	buf := []byte("SEND\ndestination:/a\n\n")
	hdrLen := len(buf)
	for i := 0; i < 100; i++ {
		buf = append(buf, bytes.Repeat([]byte{'x'}, 100)...)
		if f, n, err := p.Next(buf); f != nil || n != 0 || err != nil {
			t.Fatalf("piece %d: %v %d %v", i, f, n, err)
		}
		if p.phase != phaseBody || p.scan != len(buf) || p.pos != hdrLen {
			t.Fatalf("piece %d: phase %d pos %d scan %d, want body phase pos %d scan %d",
				i, p.phase, p.pos, p.scan, hdrLen, len(buf))
		}
	}
	buf = append(buf, 0)
	f, n, err := p.Next(buf)
	if err != nil || f == nil || len(f.Body) != 10000 || n != len(buf) {
		t.Fatalf("final: %d %v", n, err)
	}
	if p.phase != phaseIdle || p.frame != nil {
		t.Fatalf("state not reset after frame")
	}
}

func TestParseContractViolation(t *testing.T) {
	// A shorter buffer than last time must not panic; the parser starts over.
	var p Parser
	if f, _, _ := p.Next([]byte("SEND\ndestination:/a\n\nlong body so far")); f != nil {
		t.Fatal("unexpected frame")
	}
	f, n, err := p.Next([]byte("ACK\n\n\x00"))
	if err != nil || f == nil || f.Command != "ACK" || n != 6 {
		t.Fatalf("got %s %d %v", fmtFrame(f), n, err)
	}
}

func TestParseErrorResets(t *testing.T) {
	var p Parser
	if _, _, err := p.Next([]byte("SEND\nbad\n\n\x00")); err != ErrHeaderNoColon {
		t.Fatalf("err %v", err)
	}
	f, _, err := p.Next([]byte("ACK\nid:1\n\n\x00"))
	if err != nil || f.Value("id") != "1" {
		t.Fatalf("after error: %s %v", fmtFrame(f), err)
	}
}

func TestFrameHeaders(t *testing.T) {
	f := &Frame{Command: "SEND", Headers: []Header{{"a", "1"}, {"b", "2"}, {"a", "3"}}}
	if v, ok := f.Get("a"); !ok || v != "1" {
		t.Fatalf("Get(a) = %q %v", v, ok)
	}
	if v, ok := f.Get("A"); ok || v != "" {
		t.Fatalf("Get(A) = %q %v, keys are case-sensitive", v, ok)
	}
	if f.Value("b") != "2" || f.Value("zz") != "" {
		t.Fatal("Value")
	}
	f.Set("a", "9")
	f.Set("c", "4")
	want := []Header{{"a", "9"}, {"b", "2"}, {"a", "3"}, {"c", "4"}}
	if fmt.Sprint(f.Headers) != fmt.Sprint(want) {
		t.Fatalf("headers after Set = %v", f.Headers)
	}
}

func TestParseErrorText(t *testing.T) {
	var err error = ErrTooLongBody
	if err.Error() != "too_long_body" || ErrTooManyHeaders.Error() != "too_many_headers" ||
		ErrTooLongHeader.Error() != "too_long_header" {
		t.Fatal("EMQX reason texts changed")
	}
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name   string
		f      *Frame
		escape bool
		want   string
	}{
		{
			name:   "escaped message",
			f:      &Frame{Command: "MESSAGE", Headers: []Header{{"k:1", "a\\b\nc:d\re"}}, Body: []byte("hi")},
			escape: true,
			want:   "MESSAGE\nk\\c1:a\\\\b\\nc\\cd\\re\ncontent-length:2\n\nhi\x00",
		},
		{
			name: "unescaped with LF replaced",
			f:    &Frame{Command: "MESSAGE", Headers: []Header{{"k", "a\\b:c\nd"}}},
			want: "MESSAGE\nk:a\\b:c d\n\n\x00",
		},
		{
			name:   "CONNECTED never escaped",
			f:      &Frame{Command: "CONNECTED", Headers: []Header{{"version", "1.2"}, {"server", "x:y\\z"}}},
			escape: true,
			want:   "CONNECTED\nversion:1.2\nserver:x:y\\z\n\n\x00",
		},
		{
			name: "content-length corrected in place",
			f: &Frame{Command: "MESSAGE", Headers: []Header{{"content-length", "99"}, {"a", "b"}},
				Body: []byte("abc")},
			want: "MESSAGE\ncontent-length:3\na:b\n\nabc\x00",
		},
		{
			name: "matching content-length kept",
			f:    &Frame{Command: "MESSAGE", Headers: []Header{{"content-length", "003"}}, Body: []byte("abc")},
			want: "MESSAGE\ncontent-length:003\n\nabc\x00",
		},
		{
			name: "no content-length for empty body",
			f:    &Frame{Command: "RECEIPT", Headers: []Header{{"receipt-id", "7"}}},
			want: "RECEIPT\nreceipt-id:7\n\n\x00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendFrame([]byte("prefix"), tt.f, tt.escape)
			if string(got) != "prefix"+tt.want {
				t.Fatalf("got  %q\nwant %q", got, "prefix"+tt.want)
			}
		})
	}
}

// reencodable reports whether f survives AppendFrame unchanged: without
// escaping, a trailing CR cannot be told apart from a CRLF line ending.
func reencodable(f *Frame, escape bool) bool {
	if escape && f.Command != "CONNECT" && f.Command != "CONNECTED" {
		return true
	}
	for _, h := range f.Headers {
		if strings.HasSuffix(h.Value, "\r") || strings.ContainsAny(h.Key+h.Value, "\n") {
			return false
		}
	}
	return true
}

// checkRoundTrip encodes f and parses it back with no limits.
func checkRoundTrip(t testing.TB, f *Frame, escape bool) {
	t.Helper()
	wire := AppendFrame(nil, f, escape)
	p := Parser{Version: "1.2"}
	if !escape {
		p.Version = "1.0"
	}
	got, n, err := p.Next(wire)
	if err != nil || got == nil || n != len(wire) {
		t.Fatalf("reparse of %q: %s n=%d err=%v", wire, fmtFrame(got), n, err)
	}
	want := *f
	if _, ok := f.Get("content-length"); !ok && len(f.Body) > 0 {
		want.Headers = append(append([]Header(nil), f.Headers...), Header{"content-length", fmt.Sprint(len(f.Body))})
	}
	if !framesEqual(got, &want) {
		t.Fatalf("round trip via %q:\ngot  %s\nwant %s", wire, fmtFrame(got), fmtFrame(&want))
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	frames := []*Frame{
		{Command: "MESSAGE", Headers: []Header{{"destination", "/a"}, {"k\\:\n\r", "v\\:\n\r"}, {"x", ""}},
			Body: []byte("a\x00b\x00")},
		{Command: "SEND", Headers: []Header{{"content-length", "3"}, {"content-length", "1"}}, Body: []byte("\x00\x00\x00")},
		{Command: "ERROR", Headers: []Header{{"message", "Frame error: too_long_body"}}, Body: []byte("details")},
		{Command: "CONNECTED", Headers: []Header{{"version", "1.2"}, {"heart-beat", "0,0"}}},
		{Command: "RECEIPT"},
	}
	for _, f := range frames {
		checkRoundTrip(t, f, true)
		if reencodable(f, false) {
			checkRoundTrip(t, f, false)
		}
	}
	// Every frame of the case table survives re-encoding.
	for _, c := range parseCases {
		if c.want == nil {
			continue
		}
		escape := c.version != "1.0"
		if reencodable(c.want, escape) {
			checkRoundTrip(t, c.want, escape)
		}
	}
}

var fuzzLimits = []Limits{DefaultLimits(), *smallLimits, {}, {MaxHeaders: 1, MaxHeaderLength: 3, MaxBodyLength: 1}}
var fuzzVersions = []string{"", "1.0", "1.1", "1.2"}

func FuzzParser(f *testing.F) {
	for _, c := range parseCases {
		if len(c.in) < 5000 {
			f.Add([]byte(c.in), uint16(len(c.in)/2), uint8(0))
		}
	}
	f.Add([]byte("SEND\nk:v\r\r\n\n\x00"), uint16(3), uint8(1))
	f.Add([]byte("\n\nSEND\ncontent-length:1\n\n\x00\x00\r\n\r\nACK\n\n\x00"), uint16(9), uint8(6))
	f.Fuzz(func(t *testing.T, in []byte, split uint16, cfg uint8) {
		newParser := func() *Parser {
			return &Parser{Limits: fuzzLimits[int(cfg)%len(fuzzLimits)], Version: fuzzVersions[int(cfg>>2)%len(fuzzVersions)]}
		}
		one, oneErr := feed(t, newParser(), [][]byte{in})
		s := int(split) % (len(in) + 1)
		two, twoErr := feed(t, newParser(), [][]byte{in[:s], in[s:]})
		if oneErr != twoErr {
			t.Fatalf("err one-shot %v, split at %d %v", oneErr, s, twoErr)
		}
		// Also feed in small chunks of a fuzz-chosen size.
		size := 1 + int(split>>8)%8
		var chunks [][]byte
		for i := 0; i < len(in); i += size {
			chunks = append(chunks, in[i:min(i+size, len(in))])
		}
		three, threeErr := feed(t, newParser(), chunks)
		if oneErr != threeErr || len(one) != len(three) {
			t.Fatalf("one-shot %d frames err %v, %d-byte chunks %d frames err %v", len(one), oneErr, size, len(three), threeErr)
		}
		for i := range one {
			if !framesEqual(one[i], three[i]) {
				t.Fatalf("frame %d: one-shot %s, %d-byte chunks %s", i, fmtFrame(one[i]), size, fmtFrame(three[i]))
			}
		}
		if oneErr != nil {
			if _, ok := oneErr.(*ParseError); !ok {
				t.Fatalf("error %T is not *ParseError", oneErr)
			}
		}
		if len(one) != len(two) {
			t.Fatalf("one-shot %d frames, split at %d %d frames", len(one), s, len(two))
		}
		for i := range one {
			if !framesEqual(one[i], two[i]) {
				t.Fatalf("frame %d: one-shot %s, split %s", i, fmtFrame(one[i]), fmtFrame(two[i]))
			}
			escape := newParser().Version != "1.0"
			if reencodable(one[i], escape) {
				checkRoundTrip(t, one[i], escape)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	f := &Frame{Command: "SEND", Headers: []Header{
		{"destination", "/topic/sensors/temperature"},
		{"content-type", "application/json"},
		{"receipt", "message-12345"},
	}, Body: bytes.Repeat([]byte("x"), 256)}
	wire := AppendFrame(nil, f, true)
	p := Parser{Limits: DefaultLimits()}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		got, n, err := p.Next(wire)
		if err != nil || got == nil || n != len(wire) {
			b.Fatal("parse failed")
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	f := &Frame{Command: "MESSAGE", Headers: []Header{
		{"destination", "/topic/sensors/temperature"},
		{"subscription", "0"},
		{"message-id", "12345"},
	}, Body: bytes.Repeat([]byte("x"), 256)}
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], f, true)
	}
	b.SetBytes(int64(len(dst)))
}
