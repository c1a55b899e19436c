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
	snap, err := s.deps.Store.Snapshot(ctx)
	if err != nil {
		return gateway.Config{}, err
	}
	gw, ok := snap.Gateway(name)
	if !ok {
		return gateway.Config{}, notFound("Gateway not loaded: " + name)
	}
	if err := edit(&gw); err != nil {
		return gateway.Config{}, err
	}
	if err := gw.Validate(); err != nil {
		return gateway.Config{}, badRequest(err.Error())
	}
	if err := s.deps.Store.Commit(ctx, snap.WithGateway(gw), s.deps.Manager.Apply); err != nil {
		return gateway.Config{}, applyError(err)
	}
	return gw, nil
}

// applyError maps a refused change to its HTTP answer: a socket that cannot be bound is a
// 409 CONFLICT, anything else the runtime refused (a bad certificate, a bad setting) a 400.
func applyError(err error) error {
	var ae *APIError
	switch {
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
