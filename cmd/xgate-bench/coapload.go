package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"
)

// coapLoad sends CoAP NON POST /ps/<topic> from many UDP sockets at a fixed rate for a
// duration, reading the target's RSS before, every sample interval and after. New sockets
// are opened each round (fresh source ports), so the server keeps creating and expiring
// channels as a field of devices does.
func coapLoad(args []string) error {
	var (
		addr, topic      string
		sockets, rate    int
		perRound         int
		pid              int
		duration, sample time.Duration
	)
	fs := flag.NewFlagSet("coapload", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", "127.0.0.1:5683", "CoAP server address")
	fs.StringVar(&topic, "topic", "load", "topic (one path segment)")
	fs.IntVar(&sockets, "sockets", 200, "client sockets per round")
	fs.IntVar(&rate, "rate", 5000, "messages per second")
	fs.IntVar(&perRound, "round", 200_000, "messages before the sockets are replaced by new ones")
	fs.IntVar(&pid, "pid", 0, "pid of the xgate process to measure (required)")
	fs.DurationVar(&duration, "duration", 10*time.Minute, "how long to load")
	fs.DurationVar(&sample, "sample", time.Minute, "RSS sample interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if pid <= 0 || sockets <= 0 || rate <= 0 || perRound <= 0 || len(topic) > 12 || topic == "" {
		return errors.New("need -pid, positive -sockets, -rate and -round, and a -topic of 1..12 bytes")
	}
	before, err := rssKiB(pid)
	if err != nil {
		return err
	}
	fmt.Printf("t=0s rss_kib=%d\n", before)
	// NON POST, Uri-Path "ps" and topic, payload "x" (RFC 7252 §3).
	datagram := append([]byte{0x50, 0x02, 0, 0, 0xb2, 'p', 's', byte(len(topic))}, topic...)
	datagram = append(datagram, 0xff, 'x')
	open := func() ([]net.Conn, error) {
		conns := make([]net.Conn, sockets)
		for i := range conns {
			c, err := net.Dial("udp", addr)
			if err != nil {
				return nil, err
			}
			conns[i] = c
		}
		return conns, nil
	}
	closeAll := func(cs []net.Conn) {
		for _, c := range cs {
			c.Close()
		}
	}
	conns, err := open()
	if err != nil {
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/100, 1)
	start, nextSample, sent := time.Now(), time.Now().Add(sample), 0
	for time.Since(start) < duration {
		<-tick.C
		for range perTick {
			mid := uint16(sent / sockets)
			datagram[2], datagram[3] = byte(mid>>8), byte(mid)
			conns[sent%sockets].Write(datagram)
			sent++
		}
		if sent%perRound < perTick { // a new round of sockets now and then
			closeAll(conns)
			if conns, err = open(); err != nil {
				return err
			}
		}
		if time.Now().After(nextSample) {
			rss, err := rssKiB(pid)
			if err != nil {
				return err
			}
			fmt.Printf("t=%s rss_kib=%d sent=%d\n", time.Since(start).Round(time.Second), rss, sent)
			nextSample = nextSample.Add(sample)
		}
	}
	closeAll(conns)
	after, err := rssKiB(pid)
	if err != nil {
		return err
	}
	fmt.Printf("done sent=%d rss_before_kib=%d rss_after_kib=%d\n", sent, before, after)
	return nil
}
