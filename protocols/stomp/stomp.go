// Package stomp is xgate's STOMP 1.0/1.1/1.2 gateway: a STOMP destination is an MQTT topic
// (or filter, for SUBSCRIBE), as in EMQX.
package stomp

import (
	"context"
	"encoding/json"
	"errors"
	"net"

	"github.com/xgate/xgate/gateway"
)

// Settings are the STOMP gateway's own fields (EMQX names where EMQX has them).
type Settings struct {
	Frame FrameSettings `json:"frame" help:"Limits on the frames clients send; a frame over a limit gets an ERROR frame and the connection is closed."`
	// AckWindow is how many MESSAGEs of a client/client-individual subscription may wait for
	// an ACK before further messages are held back.
	AckWindow int `json:"ack_window" help:"Messages of a client or client-individual subscription that may wait for an ACK before further messages are held back (1 to 65535)."`
	// MaxPending bounds the messages waiting to be written or held back per connection;
	// overflow is dropped and counted.
	MaxPending int `json:"max_pending" help:"Messages waiting to be written or held back per connection; beyond that deliveries are dropped and counted."`
}

// FrameSettings are EMQX's frame limits.
type FrameSettings struct {
	MaxHeaders       int `json:"max_headers" help:"Most header lines in one frame."`
	MaxHeadersLength int `json:"max_headers_length" help:"Most bytes in one header, name and value together (at least 16)."`
	MaxBodyLength    int `json:"max_body_length" help:"Most bytes in one frame's body."`
}

// DefaultSettings returns EMQX's frame limits and xgate's delivery bounds.
func DefaultSettings() Settings {
	return Settings{
		Frame:      FrameSettings{MaxHeaders: 10, MaxHeadersLength: 1024, MaxBodyLength: 65536},
		AckWindow:  32,
		MaxPending: 1000,
	}
}

// Validate checks the ranges.
func (s Settings) Validate() error {
	switch {
	case s.Frame.MaxHeaders < 1:
		return errors.New("frame.max_headers: must be at least 1")
	case s.Frame.MaxHeadersLength < 16:
		return errors.New("frame.max_headers_length: must be at least 16")
	case s.Frame.MaxBodyLength < 1:
		return errors.New("frame.max_body_length: must be at least 1")
	case s.AckWindow < 1 || s.AckWindow > 65535:
		return errors.New("ack_window: must be between 1 and 65535")
	case s.MaxPending < 1:
		return errors.New("max_pending: must be at least 1")
	}
	return nil
}

func (s Settings) limits() Limits {
	return Limits{MaxHeaders: s.Frame.MaxHeaders, MaxHeaderLength: s.Frame.MaxHeadersLength, MaxBodyLength: s.Frame.MaxBodyLength}
}

// Protocol is the STOMP gateway.
type Protocol struct{}

var _ gateway.Protocol = (*Protocol)(nil)

// New returns the STOMP protocol.
func New() *Protocol { return &Protocol{} }

func (*Protocol) Name() string { return "stomp" }

func (*Protocol) Transports() []gateway.Transport {
	return []gateway.Transport{gateway.TCP, gateway.SSL}
}

// ParseSettings decodes the protocol fields strictly over the defaults.
func (*Protocol) ParseSettings(raw json.RawMessage) (any, error) {
	return gateway.DecodeSettings(raw, DefaultSettings())
}

// Serve accepts connections until ctx ends, then tells every open connection goodbye and
// waits for them.
func (p *Protocol) Serve(ctx context.Context, sock gateway.Socket, env *gateway.Env) error {
	if sock.Stream == nil {
		return errors.New("stomp needs a stream listener")
	}
	return gateway.ServeStream(ctx, sock.Stream, func(c net.Conn) gateway.StreamConn { return newSession(c, env) })
}
