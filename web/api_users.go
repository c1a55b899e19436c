package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/authn/password"
	"github.com/xgate/xgate/db"
)

// gwMaxUserLimit bounds a page of users.
const gwMaxUserLimit = 10000

// gwUserView is a built-in user as EMQX answers it: never its password or hash.
type gwUserView struct {
	UserID      string `json:"user_id"`
	IsSuperuser bool   `json:"is_superuser"`
}

func gwViewOf(u builtin.User) gwUserView {
	return gwUserView{UserID: u.UserID, IsSuperuser: u.IsSuperuser}
}

// gwUsers returns the built-in users of the path's authenticator and its configuration
// (for the password hash). Only a built_in_database authenticator has users.
func (s *Server) gwUsers(c *fiber.Ctx) (db.UserStore, builtin.Config, error) {
	t, err := s.gwTarget(c)
	if err != nil {
		return db.UserStore{}, builtin.Config{}, err
	}
	gw, err := s.gwStored(c.UserContext(), t.gateway)
	if err != nil {
		return db.UserStore{}, builtin.Config{}, err
	}
	raw, err := t.get(gw)
	if err != nil {
		return db.UserStore{}, builtin.Config{}, err
	}
	if raw == nil {
		return db.UserStore{}, builtin.Config{}, t.notFound()
	}
	var kind struct {
		Backend string `json:"backend"`
	}
	json.Unmarshal(raw, &kind)
	if kind.Backend != builtin.Backend {
		return db.UserStore{}, builtin.Config{}, badRequest(fmt.Sprintf(
			"users are only for built_in_database authenticators; the one on %s has backend %q", t.where(), kind.Backend))
	}
	cfg, err := builtin.ParseConfig(raw)
	if err != nil {
		return db.UserStore{}, builtin.Config{}, badRequest("authentication: " + err.Error())
	}
	return s.deps.Store.Users(t.ref()), cfg, nil
}

// gwUserError maps the store's and the hashing's errors to EMQX's answers.
func gwUserError(err error, userID string) error {
	var fe *password.FieldError
	switch {
	case errors.As(err, &fe):
		return badRequest(fe.Error())
	case errors.Is(err, db.ErrExists):
		return &APIError{Status: fiber.StatusConflict, Code: "ALREADY_EXISTS", Message: "User already exists: " + userID}
	case errors.Is(err, db.ErrNotFound):
		return gwUserNotFound(userID)
	}
	return err
}

func gwUserNotFound(userID string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "NOT_FOUND", Message: "User not found: " + userID}
}

// gwQueryInt reads a positive integer query parameter, def when absent.
func gwQueryInt(c *fiber.Ctx, key string, def, maxValue int) (int, error) {
	v := c.Query(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxValue {
		return 0, badRequest(fmt.Sprintf("%s: %q is not an integer from 1 to %d", key, v, maxValue))
	}
	return n, nil
}

// gwListUsers is GET .../authentication/users?page=&limit=&like_user_id=&is_superuser=.
func (s *Server) gwListUsers(c *fiber.Ctx) error {
	store, _, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	q := db.UserQuery{LikeUserID: c.Query("like_user_id")}
	if q.Page, err = gwQueryInt(c, "page", 1, 1<<30); err != nil {
		return err
	}
	if q.Limit, err = gwQueryInt(c, "limit", 100, gwMaxUserLimit); err != nil {
		return err
	}
	switch v := c.Query("is_superuser"); v {
	case "":
	case "true", "false":
		super := v == "true"
		q.IsSuperuser = &super
	default:
		return badRequest(fmt.Sprintf("is_superuser: %q is not true or false", v))
	}
	users, total, err := store.List(c.UserContext(), q)
	if err != nil {
		return err
	}
	data := make([]gwUserView, 0, len(users))
	for _, u := range users {
		data = append(data, gwViewOf(u))
	}
	return c.JSON(fiber.Map{"data": data, "meta": fiber.Map{
		"page": q.Page, "limit": q.Limit, "count": total, "hasnext": q.Page*q.Limit < total,
	}})
}

// gwAddUser is POST .../authentication/users: the password is hashed with the
// authenticator's password_hash_algorithm.
func (s *Server) gwAddUser(c *fiber.Ctx) error {
	store, cfg, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	var req struct {
		UserID      string `json:"user_id"`
		Password    string `json:"password"`
		IsSuperuser bool   `json:"is_superuser"`
	}
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	u, err := gwCreateUser(c.UserContext(), store, cfg, req.UserID, req.Password, req.IsSuperuser)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(gwViewOf(u))
}

// gwCreateUser adds a user to store, its password hashed with the authenticator's
// password_hash_algorithm (the API's and the dashboard's add). Errors are gwUserError's.
func gwCreateUser(ctx context.Context, store db.UserStore, cfg builtin.Config, userID, pw string, superuser bool) (builtin.User, error) {
	u, err := builtin.NewUser(cfg.PasswordHashAlgorithm, userID, pw, superuser)
	if err != nil {
		return builtin.User{}, gwUserError(err, userID)
	}
	if err := store.Add(ctx, u); err != nil {
		return builtin.User{}, gwUserError(err, u.UserID)
	}
	return u, nil
}

// gwGetUser is GET .../authentication/users/{uid}.
func (s *Server) gwGetUser(c *fiber.Ctx) error {
	store, _, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	uid, err := gwParam(c, "uid")
	if err != nil {
		return err
	}
	u, found, err := store.LookupUser(c.UserContext(), uid)
	if err != nil {
		return err
	}
	if !found {
		return gwUserNotFound(uid)
	}
	return c.JSON(gwViewOf(u))
}

// gwUpdateUser is PUT .../authentication/users/{uid} with {password?, is_superuser?}.
func (s *Server) gwUpdateUser(c *fiber.Ctx) error {
	store, cfg, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	uid, err := gwParam(c, "uid")
	if err != nil {
		return err
	}
	var req struct {
		Password    *string `json:"password"`
		IsSuperuser *bool   `json:"is_superuser"`
	}
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	u, err := gwEditUser(c.UserContext(), store, cfg, uid, req.Password, req.IsSuperuser)
	if err != nil {
		return err
	}
	return c.JSON(gwViewOf(u))
}

// gwEditUser changes a user's password (hashed anew) and superuser flag where they are not
// nil (the API's and the dashboard's edit). Errors are gwUserError's.
func gwEditUser(ctx context.Context, store db.UserStore, cfg builtin.Config, uid string, pw *string, superuser *bool) (builtin.User, error) {
	u, found, err := store.LookupUser(ctx, uid)
	if err != nil {
		return builtin.User{}, err
	}
	if !found {
		return builtin.User{}, gwUserNotFound(uid)
	}
	if superuser != nil {
		u.IsSuperuser = *superuser
	}
	if pw != nil {
		if u, err = builtin.NewUser(cfg.PasswordHashAlgorithm, uid, *pw, u.IsSuperuser); err != nil {
			return builtin.User{}, gwUserError(err, uid)
		}
	}
	if err := store.Update(ctx, u); err != nil {
		return builtin.User{}, gwUserError(err, uid)
	}
	return u, nil
}

// gwDeleteUser is DELETE .../authentication/users/{uid}.
func (s *Server) gwDeleteUser(c *fiber.Ctx) error {
	store, _, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	uid, err := gwParam(c, "uid")
	if err != nil {
		return err
	}
	if err := store.Delete(c.UserContext(), uid); err != nil {
		return gwUserError(err, uid)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// gwImportUsers is POST .../authentication/import_users[?type=plain|hash]: a multipart upload
// in the form field "filename" (EMQX's), CSV or JSON by the file name's extension. Users
// that exist are replaced; the answer counts what happened.
func (s *Server) gwImportUsers(c *fiber.Ctx) error {
	store, cfg, err := s.gwUsers(c)
	if err != nil {
		return err
	}
	file, _ := c.FormFile("filename") // nil without one: gwImportFile says what is missing
	res, err := gwImportFile(c.UserContext(), store, cfg, c.Query("type", builtin.KindPlain), file)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// gwImportFile stores the users of an uploaded file (nil: none was sent), CSV or JSON by its
// name, of kind plain or hash: the API's and the dashboard's import. Errors about the
// request are 400s whose message starts with the field: "type: " or "filename: ", or is
// the file's problem.
func gwImportFile(ctx context.Context, store db.UserStore, cfg builtin.Config, kind string, file *multipart.FileHeader) (db.ImportResult, error) {
	if kind != builtin.KindPlain && kind != builtin.KindHash {
		return db.ImportResult{}, badRequest(fmt.Sprintf("type: %q is not plain or hash", kind))
	}
	if file == nil {
		return db.ImportResult{}, badRequest("filename: a multipart/form-data upload with the users file in the field filename is required")
	}
	var format string
	switch ext := strings.ToLower(filepath.Ext(file.Filename)); ext {
	case ".csv":
		format = builtin.FormatCSV
	case ".json":
		format = builtin.FormatJSON
	default:
		return db.ImportResult{}, badRequest(fmt.Sprintf("filename: %q must end in .csv or .json", file.Filename))
	}
	f, err := file.Open()
	if err != nil {
		return db.ImportResult{}, err
	}
	defer f.Close()
	users, failed, err := builtin.ParseImport(f, format, kind, cfg.PasswordHashAlgorithm)
	if err != nil {
		return db.ImportResult{}, badRequest(err.Error())
	}
	res, err := store.Import(ctx, users, failed)
	if err != nil {
		return db.ImportResult{}, gwUserError(err, "")
	}
	return res, nil
}
