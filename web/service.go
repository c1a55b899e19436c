package web

import (
	"context"
	"errors"
	"syscall"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// changeGateway is the one way the API and the dashboard change a gateway: edit gets the
// stored configuration of gateway name (404 when it does not exist) and changes it in
// place; the result is validated, stored and applied in one transaction (db.Commit), so a
// change the runtime refuses is not stored and nothing running has changed. The stored
// result is returned.
func (s *Server) changeGateway(ctx context.Context, name string, edit func(*gateway.Config) error) (gateway.Config, error) {
	var gw gateway.Config
	err := s.deps.Store.CommitEdit(ctx, func(snap *gateway.Snapshot) error {
		var ok bool
		if gw, ok = snap.Gateway(name); !ok {
			return notFound("Gateway not loaded: " + name)
		}
		if err := edit(&gw); err != nil {
			return err
		}
		if err := gw.Validate(); err != nil {
			return badRequest(err.Error())
		}
		*snap = snap.WithGateway(gw)
		return nil
	}, s.deps.Manager.Apply)
	if err != nil {
		return gateway.Config{}, applyError(err)
	}
	return gw, nil
}

// putGateway is changeGateway for PUT /gateways/{name}, which also loads a gateway that is
// not stored: build gets the stored config, or nil, and returns the whole new one.
func (s *Server) putGateway(ctx context.Context, name string, build func(old *gateway.Config) (gateway.Config, error)) error {
	err := s.deps.Store.CommitEdit(ctx, func(snap *gateway.Snapshot) error {
		var old *gateway.Config
		if gw, ok := snap.Gateway(name); ok {
			old = &gw
		}
		next, err := build(old)
		if err != nil {
			return err
		}
		if err := next.Validate(); err != nil {
			return badRequest(err.Error())
		}
		*snap = snap.WithGateway(next)
		return nil
	}, s.deps.Manager.Apply)
	return applyError(err)
}

// applyError maps a refused change to its HTTP answer: a socket that cannot be bound is a
// 409 CONFLICT, anything else the runtime refused (a bad certificate, a bad setting) a 400.
func applyError(err error) error {
	var ae *APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EADDRNOTAVAIL):
		return &APIError{Status: fiber.StatusConflict, Code: "CONFLICT", Message: err.Error()}
	case errors.Is(err, db.ErrNotFound):
		return notFound(err.Error())
	case errors.Is(err, db.ErrExists):
		return &APIError{Status: fiber.StatusConflict, Code: "ALREADY_EXISTS", Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return badRequest(err.Error())
}
