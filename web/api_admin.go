package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/db"
)

// adminRoutes registers the routes of this file under the authenticated /api/v5 group:
// logout, the dashboard users and the API keys, with EMQX 5's paths and shapes.
func (s *Server) adminRoutes(r fiber.Router) {
	r.Post("/logout", s.logout)

	r.Get("/users", s.admListUsers)
	r.Post("/users", s.admCreateUser)
	r.Put("/users/:username", s.admUpdateUser)
	r.Delete("/users/:username", s.admDeleteUser)
	r.Post("/users/:username/change_pwd", s.admChangePassword)

	r.Get("/api_key", s.admListKeys)
	r.Post("/api_key", s.admCreateKey)
	r.Get("/api_key/:name", s.admGetKey)
	r.Put("/api_key/:name", s.admUpdateKey)
	r.Delete("/api_key/:name", s.admDeleteKey)
}

// admRoleAdministrator is the only role: xgate has no role-based access control, so it
// accepts EMQX's role field but not a role it would not enforce.
const admRoleAdministrator = "administrator"

var (
	// admUsernameRE is EMQX's rule for dashboard usernames.
	admUsernameRE = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9-_]*$`)
	// admKeyNameRE is EMQX's rule for API key names.
	admKeyNameRE = regexp.MustCompile(`^[A-Za-z]+[A-Za-z0-9-_]*$`)
)

func admUserNotFound(username string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "USER_NOT_FOUND", Message: fmt.Sprintf("user %s not found", username)}
}

func admNotAllowed(msg string) error {
	return &APIError{Status: fiber.StatusBadRequest, Code: "NOT_ALLOWED", Message: msg}
}

func admKeyNotFound(name string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "NOT_FOUND", Message: fmt.Sprintf("api key %s not found", name)}
}

func admAlreadyExists(msg string) error {
	return &APIError{Status: fiber.StatusConflict, Code: "ALREADY_EXISTS", Message: msg}
}

// admUserView is a dashboard user as GET/POST/PUT /users show it (EMQX adds "backend").
type admUserView struct {
	Username    string `json:"username"`
	Role        string `json:"role"`
	Description string `json:"description"`
	Backend     string `json:"backend"`
	// DefaultPassword marks the user admin while it still has the password "public".
	DefaultPassword bool `json:"default_password,omitempty"`
}

func (s *Server) admUserView(a db.Admin) admUserView {
	return admUserView{Username: a.Username, Role: a.Role, Description: a.Description, Backend: "local",
		DefaultPassword: a.Username == defaultAdmin && s.defaultPasswordInUse()}
}

// admListUsers is GET /users.
func (s *Server) admListUsers(c *fiber.Ctx) error {
	admins, err := s.deps.Store.Admins(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]admUserView, 0, len(admins))
	for _, a := range admins {
		out = append(out, s.admUserView(a))
	}
	return c.JSON(out)
}

type admCreateUserRequest struct {
	Username    string  `json:"username"`
	Password    string  `json:"password"`
	Role        *string `json:"role"`
	Description string  `json:"description"`
}

// admCreateUser is POST /users: 200 with the user, as EMQX answers.
func (s *Server) admCreateUser(c *fiber.Ctx) error {
	var req admCreateUserRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if err := admCheckUsername(req.Username); err != nil {
		return err
	}
	if err := admCheckPassword("password", req.Password); err != nil {
		return err
	}
	role, err := admCheckRole(req.Role)
	if err != nil {
		return err
	}
	hash, err := s.admHash(req.Password)
	if err != nil {
		return err
	}
	a := db.Admin{Username: req.Username, PasswordHash: hash, Role: role, Description: req.Description}
	if err := s.deps.Store.AddAdmin(c.UserContext(), a); errors.Is(err, db.ErrExists) {
		return admAlreadyExists(fmt.Sprintf("user %s already exists", req.Username))
	} else if err != nil {
		return err
	}
	return c.JSON(s.admUserView(a))
}

type admUpdateUserRequest struct {
	Role        *string `json:"role"`
	Description *string `json:"description"`
}

// admUpdateUser is PUT /users/{username}: it changes the given fields and keeps the others.
func (s *Server) admUpdateUser(c *fiber.Ctx) error {
	var req admUpdateUserRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Role != nil {
		if _, err := admCheckRole(req.Role); err != nil {
			return err
		}
	}
	username := c.Params("username")
	a, err := s.deps.Store.UpdateAdminProfile(c.UserContext(), username, req.Role, req.Description)
	if errors.Is(err, db.ErrNotFound) {
		return admUserNotFound(username)
	}
	if err != nil {
		return err
	}
	return c.JSON(s.admUserView(a))
}

// admDeleteUser is DELETE /users/{username}. Like EMQX it refuses deleting the user making
// the request, and it keeps at least one administrator.
func (s *Server) admDeleteUser(c *fiber.Ctx) error {
	username := c.Params("username")
	if self, _ := c.Locals(localAdmin).(string); self == username {
		return admNotAllowed("Cannot delete self")
	}
	err := s.deps.Store.DeleteAdmin(c.UserContext(), username)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return admUserNotFound(username)
	case errors.Is(err, db.ErrLastAdmin):
		return admNotAllowed(fmt.Sprintf("user %s is the last administrator and cannot be deleted", username))
	case err != nil:
		return err
	}
	s.adm.logins.reset(username)
	s.admNotePassword(username, "")
	return c.SendStatus(fiber.StatusNoContent)
}

type admChangePasswordRequest struct {
	OldPwd string `json:"old_pwd"`
	NewPwd string `json:"new_pwd"`
}

// admChangePassword is POST /users/{username}/change_pwd. The user's tokens stop working,
// the current one included when it is the user's own, as in EMQX. The dashboard's password
// page (ui_account.go) takes the same two steps, admCheckOldPassword and admSetPassword.
func (s *Server) admChangePassword(c *fiber.Ctx) error {
	var req admChangePasswordRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.OldPwd == "" || req.NewPwd == "" {
		return badRequest("old_pwd and new_pwd are required")
	}
	username := c.Params("username")
	if err := s.admCheckOldPassword(c.UserContext(), username, req.OldPwd); err != nil {
		return err
	}
	if err := s.admSetPassword(c.UserContext(), username, req.NewPwd); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// admCheckOldPassword checks the current password given for a password change as a login
// checks it (authenticateAdmin): a wrong one counts towards the login lockout and a locked
// username is refused, so that a password change cannot be used to guess a password without
// the limit a login has. Refusals: 404 USER_NOT_FOUND, 400 ERROR_PWD_NOT_MATCH, 400
// LOGIN_LOCKED (not 401: the caller's own token is fine).
func (s *Server) admCheckOldPassword(ctx context.Context, username, oldPwd string) error {
	if _, ok, err := s.deps.Store.Admin(ctx, username); err != nil {
		return err
	} else if !ok {
		return admUserNotFound(username)
	}
	_, err := s.authenticateAdmin(ctx, username, oldPwd)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != fiber.StatusUnauthorized {
		return err
	}
	if ae.Code == "LOGIN_LOCKED" {
		return &APIError{Status: fiber.StatusBadRequest, Code: "LOGIN_LOCKED",
			Message: fmt.Sprintf("old_pwd: cannot be checked: the user is locked after %d failed attempts; try again later", admMaxFailures)}
	}
	return &APIError{Status: fiber.StatusBadRequest, Code: "ERROR_PWD_NOT_MATCH", Message: "old_pwd: does not match the current password"}
}

// admSetPassword gives username the password newPwd after checking EMQX's rule for it
// (400 BAD_REQUEST naming new_pwd). The user's token epoch changes, which ends every token
// issued before; the login lockout of the name is cleared and the default-password flag
// updated.
func (s *Server) admSetPassword(ctx context.Context, username, newPwd string) error {
	if err := admCheckPassword("new_pwd", newPwd); err != nil {
		return err
	}
	hash, err := s.admHash(newPwd)
	if err != nil {
		return err
	}
	if err := s.deps.Store.SetAdminPassword(ctx, username, hash); errors.Is(err, db.ErrNotFound) {
		return admUserNotFound(username)
	} else if err != nil {
		return err
	}
	s.adm.logins.reset(username)
	s.admNotePassword(username, newPwd)
	return nil
}

func admCheckUsername(username string) error {
	switch {
	case username == "":
		return badRequest("username: is required")
	case len(username) > 100:
		return badRequest("username: must be at most 100 characters")
	case !admUsernameRE.MatchString(username):
		return badRequest("username: only letters, digits, '-' and '_' are allowed, starting with a letter or digit")
	}
	return nil
}

// admCheckPassword applies EMQX's rule for dashboard passwords (admPasswordProblem) to the
// request field named field.
func admCheckPassword(field, pw string) error {
	if problem := admPasswordProblem(pw); problem != "" {
		return badRequest(field + ": " + problem)
	}
	return nil
}

// admPasswordProblem is what EMQX's rule for dashboard passwords finds wrong with pw, or ""
// when it passes: 8 to 64 ASCII characters of at least two kinds among letters, digits and
// other characters.
func admPasswordProblem(pw string) string {
	if pw == "" {
		return "is required"
	}
	if n := utf8.RuneCountInString(pw); n < 8 || n > 64 {
		return "must be 8 to 64 characters long"
	}
	var letters, digits, others bool
	for _, r := range pw {
		switch {
		case r > 0x7f:
			return "only ASCII characters are allowed"
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			letters = true
		case '0' <= r && r <= '9':
			digits = true
		default:
			others = true
		}
	}
	kinds := 0
	for _, has := range []bool{letters, digits, others} {
		if has {
			kinds++
		}
	}
	if kinds < 2 {
		return "must mix at least two of letters, digits and special characters"
	}
	return ""
}

func admCheckRole(role *string) (string, error) {
	if role == nil || *role == admRoleAdministrator {
		return admRoleAdministrator, nil
	}
	return "", badRequest(fmt.Sprintf("role: %q is not supported; xgate only has %q", *role, admRoleAdministrator))
}

// admKeyView is an API key as /api_key shows it. APISecret is set only in the answer to
// its creation.
type admKeyView struct {
	Name      string `json:"name"`
	APIKey    string `json:"api_key"`
	APISecret string `json:"api_secret,omitempty"`
	ExpiredAt string `json:"expired_at"` // RFC 3339, or "infinity"
	Desc      string `json:"desc"`
	Enable    bool   `json:"enable"`
	Expired   bool   `json:"expired"`
	CreatedAt string `json:"created_at"`
	Role      string `json:"role"`
}

func (s *Server) admKeyView(k db.APIKey) admKeyView {
	expiredAt := "infinity"
	if !k.ExpiredAt.IsZero() {
		expiredAt = k.ExpiredAt.UTC().Format(time.RFC3339)
	}
	return admKeyView{Name: k.Name, APIKey: k.Key, ExpiredAt: expiredAt, Desc: k.Description, Enable: k.Enable,
		Expired: k.Expired(s.admNow()), CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339), Role: admRoleAdministrator}
}

// admKeyFields are the editable fields of an API key.
type admKeyFields struct {
	ExpiredAt json.RawMessage `json:"expired_at"`
	Desc      *string         `json:"desc"`
	Enable    *bool           `json:"enable"`
	Role      *string         `json:"role"`
}

type admCreateKeyRequest struct {
	Name string `json:"name"`
	admKeyFields
}

// apply validates f and writes the fields it has into k.
func (f admKeyFields) apply(k *db.APIKey, now time.Time) error {
	if _, err := admCheckRole(f.Role); err != nil {
		return err
	}
	if f.Desc != nil {
		k.Description = *f.Desc
	}
	if f.Enable != nil {
		k.Enable = *f.Enable
	}
	if at, given, err := admParseExpiry(f.ExpiredAt, now); err != nil {
		return err
	} else if given {
		k.ExpiredAt = at
	}
	return nil
}

// admParseExpiry reads expired_at as EMQX takes it: "infinity", an RFC 3339 time or Unix
// seconds. given is false when the field is absent or null. A time must be in the future.
func admParseExpiry(raw json.RawMessage, now time.Time) (at time.Time, given bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	var str string
	var secs int64
	switch {
	case json.Unmarshal(raw, &str) == nil:
		if str == "infinity" {
			return time.Time{}, true, nil
		}
		if at, err = time.Parse(time.RFC3339, str); err != nil {
			return time.Time{}, false, badRequest(fmt.Sprintf("expired_at: %q is neither \"infinity\" nor an RFC 3339 time", str))
		}
	case json.Unmarshal(raw, &secs) == nil:
		at = time.Unix(secs, 0)
	default:
		return time.Time{}, false, badRequest("expired_at: must be \"infinity\", an RFC 3339 time or Unix seconds")
	}
	if !at.After(now) {
		return time.Time{}, false, badRequest("expired_at: must be in the future")
	}
	return at.UTC(), true, nil
}

func admCheckKeyName(name string) error {
	switch {
	case name == "":
		return badRequest("name: is required")
	case len(name) > 256:
		return badRequest("name: must be at most 256 characters")
	case !admKeyNameRE.MatchString(name):
		return badRequest("name: only letters, digits, '-' and '_' are allowed, starting with a letter")
	}
	return nil
}

// admListKeys is GET /api_key.
func (s *Server) admListKeys(c *fiber.Ctx) error {
	keys, err := s.deps.Store.APIKeys(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]admKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.admKeyView(k))
	}
	return c.JSON(out)
}

// admCreateKey is POST /api_key: 200 with the new key and its secret, which is shown only
// here; only its bcrypt hash is stored.
func (s *Server) admCreateKey(c *fiber.Ctx) error {
	var req admCreateKeyRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if err := admCheckKeyName(req.Name); err != nil {
		return err
	}
	k := db.APIKey{Name: req.Name, Enable: true}
	if err := req.apply(&k, s.admNow()); err != nil {
		return err
	}
	key := make([]byte, 8)
	secret := make([]byte, 32)
	rand.Read(key)
	rand.Read(secret)
	k.Key = hex.EncodeToString(key)
	secretText := base64.RawURLEncoding.EncodeToString(secret)
	hash, err := s.admHash(secretText)
	if err != nil {
		return err
	}
	k.SecretHash = hash
	k, err = s.deps.Store.AddAPIKey(c.UserContext(), k)
	if errors.Is(err, db.ErrExists) {
		return admAlreadyExists(fmt.Sprintf("api key %s already exists", req.Name))
	}
	if err != nil {
		return err
	}
	view := s.admKeyView(k)
	view.APISecret = secretText
	return c.JSON(view)
}

// admGetKey is GET /api_key/{name}.
func (s *Server) admGetKey(c *fiber.Ctx) error {
	name := c.Params("name")
	k, ok, err := s.deps.Store.APIKeyByName(c.UserContext(), name)
	if err != nil {
		return err
	}
	if !ok {
		return admKeyNotFound(name)
	}
	return c.JSON(s.admKeyView(k))
}

// admUpdateKey is PUT /api_key/{name}: it changes the given fields (enable, expired_at,
// desc) and keeps the others.
func (s *Server) admUpdateKey(c *fiber.Ctx) error {
	var req admKeyFields
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	name := c.Params("name")
	k, ok, err := s.deps.Store.APIKeyByName(c.UserContext(), name)
	if err != nil {
		return err
	}
	if !ok {
		return admKeyNotFound(name)
	}
	if err := req.apply(&k, s.admNow()); err != nil {
		return err
	}
	if err := s.deps.Store.UpdateAPIKey(c.UserContext(), k); errors.Is(err, db.ErrNotFound) {
		return admKeyNotFound(name)
	} else if err != nil {
		return err
	}
	return c.JSON(s.admKeyView(k))
}

// admDeleteKey is DELETE /api_key/{name}; the key stops working at once.
func (s *Server) admDeleteKey(c *fiber.Ctx) error {
	name := c.Params("name")
	k, ok, err := s.deps.Store.APIKeyByName(c.UserContext(), name)
	if err != nil {
		return err
	}
	if !ok {
		return admKeyNotFound(name)
	}
	if err := s.deps.Store.DeleteAPIKey(c.UserContext(), name); errors.Is(err, db.ErrNotFound) {
		return admKeyNotFound(name)
	} else if err != nil {
		return err
	}
	s.adm.keys.forget(k.Key)
	return c.SendStatus(fiber.StatusNoContent)
}
