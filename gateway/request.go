package gateway

import (
	"context"
	"errors"
	"time"
)

// DeviceRequest is a request the operator sends to a connected device (EMQX's
// POST /gateways/coap/clients/{clientid}/request).
type DeviceRequest struct {
	Method      string // get | put | post | delete
	Path        string
	ContentType string // text/plain | application/json | application/octet-stream | ...
	Payload     []byte
	Timeout     time.Duration // 0: DefaultRequestTimeout
}

// DeviceResponse is the device's answer.
type DeviceResponse struct {
	Code        string // "2.05"
	ContentType string
	Payload     []byte
}

// Requester is implemented by the sessions of protocols that can send requests to their
// devices (CoAP, LwM2M).
type Requester interface {
	Request(ctx context.Context, req DeviceRequest) (DeviceResponse, error)
}

// DefaultRequestTimeout bounds a device request without its own timeout.
const DefaultRequestTimeout = 10 * time.Second

// Errors of Runtime.Request, mapped by the API to 404 CLIENT_NOT_FOUND, 504
// CLIENT_NOT_RESPONSE and 400.
var (
	ErrClientNotFound = errors.New("client not found")
	ErrNoResponse     = errors.New("client did not respond")
	ErrNotSupported   = errors.New("this gateway cannot send requests to its clients")
)

// Request sends a request to the connected client with that clientid and waits for its
// answer, at most req.Timeout.
func (rt *Runtime) Request(ctx context.Context, clientID string, req DeviceRequest) (DeviceResponse, error) {
	c := rt.registry.get(clientID)
	if c == nil {
		return DeviceResponse{}, ErrClientNotFound
	}
	r, ok := c.s.(Requester)
	if !ok {
		return DeviceResponse{}, ErrNotSupported
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := r.Request(ctx, req)
	if err != nil && ctx.Err() != nil {
		return DeviceResponse{}, ErrNoResponse
	}
	return resp, err
}
