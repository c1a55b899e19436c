// Command xgate-bench measures xgate from the outside.
//
//	xgate-bench idle -proto mqtt|stomp|mqttsn -addr 127.0.0.1:1883 -n 1000 -pid <xgate pid>
//
//	xgate-bench coapload -addr 127.0.0.1:5683 -sockets 200 -rate 5000 -duration 10m -pid <xgate pid>
//
// idle reads the target's resident set size, opens n connections that log in and then stay
// idle, reads it again once the server has settled, and prints the memory per connection.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	modes := map[string]func([]string) error{"idle": idle, "coapload": coapLoad}
	if len(os.Args) < 2 || modes[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: xgate-bench idle -proto mqtt|stomp|mqttsn -addr host:port -n N -pid PID\n"+
			"       xgate-bench coapload -addr host:port -sockets N -rate N -duration D -pid PID")
		os.Exit(2)
	}
	if err := modes[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "xgate-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

type idleConfig struct {
	proto, addr    string
	n, pid         int
	user, pass     string
	settle         time.Duration
	timeout        time.Duration
	parallel       int
	keepalive      int
	clientIDPrefix string
}

func idle(args []string) error {
	var c idleConfig
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.StringVar(&c.proto, "proto", "mqtt", "protocol: mqtt, stomp or mqttsn")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:1883", "server address")
	fs.IntVar(&c.n, "n", 1000, "number of idle connections")
	fs.IntVar(&c.pid, "pid", 0, "pid of the xgate process to measure (required)")
	fs.StringVar(&c.user, "user", "", "username (MQTT) or login (STOMP)")
	fs.StringVar(&c.pass, "pass", "", "password (MQTT) or passcode (STOMP)")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "wait after the last login before measuring")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "timeout of one connection's login")
	fs.IntVar(&c.parallel, "parallel", 32, "logins in flight at once")
	fs.IntVar(&c.keepalive, "keepalive", 60, "MQTT keepalive in seconds")
	fs.StringVar(&c.clientIDPrefix, "clientid-prefix", fmt.Sprintf("bench-%d-", os.Getpid()), "MQTT client id prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.pid <= 0:
		return errors.New("-pid is required")
	case c.n <= 0:
		return errors.New("-n must be positive")
	case c.parallel <= 0:
		return errors.New("-parallel must be positive")
	case c.proto != "mqtt" && c.proto != "stomp" && c.proto != "mqttsn":
		return fmt.Errorf("-proto %q: want mqtt, stomp or mqttsn", c.proto)
	case time.Duration(c.keepalive)*time.Second <= c.settle+c.timeout:
		return fmt.Errorf("-keepalive %ds: the server would drop idle clients during the measurement", c.keepalive)
	}
	if err := raiseFileLimit(uint64(c.n) + 64); err != nil {
		return err
	}

	before, err := rssKiB(c.pid)
	if err != nil {
		return err
	}
	conns, err := openAll(c)
	defer func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(c.settle) // a measurement, not a test: let the server's goroutines and GC settle
	after, err := rssKiB(c.pid)
	if err != nil {
		return err
	}
	perConn := float64(after-before) * 1024 / float64(c.n)
	fmt.Printf("proto=%s n=%d rss_before_kib=%d rss_after_kib=%d per_conn_bytes=%.0f\n",
		c.proto, c.n, before, after, perConn)
	return nil
}

// openAll opens c.n logged-in connections, c.parallel at a time. On error it returns the
// connections opened so far together with the first error.
func openAll(c idleConfig) ([]net.Conn, error) {
	conns := make([]net.Conn, c.n)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sem := make(chan struct{}, c.parallel)
	var wg sync.WaitGroup
	for i := range c.n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := open(ctx, c, i)
			if err != nil {
				cancel(fmt.Errorf("connection %d: %w", i, err))
				return
			}
			conns[i] = conn
		})
	}
	wg.Wait()
	opened := conns[:0]
	for _, conn := range conns {
		if conn != nil {
			opened = append(opened, conn)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return opened, err
	}
	return opened, nil
}

// open dials and logs in one connection.
func open(ctx context.Context, c idleConfig, i int) (net.Conn, error) {
	network := "tcp"
	if c.proto == "mqttsn" {
		network = "udp"
	}
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, network, c.addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(c.timeout))
	switch c.proto {
	case "mqtt":
		err = mqttConnect(conn, c.clientIDPrefix+strconv.Itoa(i), c.user, c.pass, c.keepalive)
	case "stomp":
		err = stompConnect(conn, c.user, c.pass)
	case "mqttsn":
		err = mqttsnConnect(conn, c.clientIDPrefix+strconv.Itoa(i), c.keepalive)
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// mqttsnConnect sends an MQTT-SN 1.2 CONNECT (clean session) over a connected UDP socket and
// checks the CONNACK.
func mqttsnConnect(conn net.Conn, clientID string, keepalive int) error {
	pkt := []byte{byte(6 + len(clientID)), 0x04, 0x04, 0x01, byte(keepalive >> 8), byte(keepalive)}
	if _, err := conn.Write(append(pkt, clientID...)); err != nil {
		return err
	}
	buf := make([]byte, 8)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if n != 3 || buf[1] != 0x05 || buf[2] != 0 {
		return fmt.Errorf("want CONNACK accepted, got % x", buf[:n])
	}
	return nil
}

// mqttConnect sends an MQTT 3.1.1 CONNECT (clean session) and checks the CONNACK. Raw packets
// keep the client side down to one socket per connection.
func mqttConnect(conn net.Conn, clientID, user, pass string, keepalive int) error {
	var body bytes.Buffer
	writeString(&body, "MQTT")
	body.WriteByte(4) // protocol level 3.1.1
	flags := byte(0x02)
	if user != "" {
		flags |= 0x80
	}
	if pass != "" {
		flags |= 0x40
	}
	body.WriteByte(flags)
	body.Write([]byte{byte(keepalive >> 8), byte(keepalive)})
	writeString(&body, clientID)
	if user != "" {
		writeString(&body, user)
	}
	if pass != "" {
		writeString(&body, pass)
	}
	pkt := []byte{0x10}
	for n := body.Len(); ; {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, body.Bytes()...)
	if _, err := conn.Write(pkt); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return fmt.Errorf("want CONNACK, got % x", ack)
	}
	if ack[3] != 0 {
		return fmt.Errorf("CONNACK return code %d", ack[3])
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	b.Write([]byte{byte(len(s) >> 8), byte(len(s))})
	b.WriteString(s)
}

// stompConnect sends a STOMP 1.2 CONNECT without heart-beats and waits for CONNECTED.
func stompConnect(conn net.Conn, login, passcode string) error {
	var f strings.Builder
	f.WriteString("CONNECT\naccept-version:1.2\nhost:x\nheart-beat:0,0\n")
	if login != "" {
		f.WriteString("login:" + login + "\n")
	}
	if passcode != "" {
		f.WriteString("passcode:" + passcode + "\n")
	}
	f.WriteString("\n\x00")
	if _, err := io.WriteString(conn, f.String()); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	// Read one frame up to its NUL; the server's reader buffer is not reused afterwards.
	frame, err := bufio.NewReader(conn).ReadString(0)
	if err != nil {
		return fmt.Errorf("read CONNECTED: %w", err)
	}
	frame = strings.TrimLeft(frame, "\r\n") // heart-beat EOLs
	cmd, rest, _ := strings.Cut(frame, "\n")
	if strings.TrimSuffix(cmd, "\r") != "CONNECTED" {
		return fmt.Errorf("want CONNECTED, got %s: %q", cmd, strings.TrimRight(rest, "\x00"))
	}
	return nil
}

// rssKiB reads VmRSS of a process from /proc.
func rssKiB(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmRSS %q: %w", path, strings.TrimSpace(v), err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// raiseFileLimit lifts the soft open-file limit so that need descriptors fit.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open file limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("open file limit: need %d descriptors, hard limit is %d", need, lim.Max)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open file limit: raise to %d: %w", lim.Max, err)
	}
	return nil
}
