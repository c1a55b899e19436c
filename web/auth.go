package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/xgate/xgate/db"
)

const (
	// metaJWTKey holds the HS256 signing key, generated on the first start.
	metaJWTKey = "jwt_signing_key"
	// defaultAdmin and defaultPassword are EMQX's first-start credentials, used when
	// XGATE_ADMIN_PASSWORD is not set.
	defaultAdmin    = "admin"
	defaultPassword = "public"
	tokenIssuer     = "xgate"
	// localAdmin is the c.Locals key of the authenticated admin's name (an API key's name
	// when the request came with one).
	localAdmin = "admin"
	// admLocalClaims is the c.Locals key of the bearer token's *admClaims; absent for API keys.
	admLocalClaims = "adm_claims"
)

// Login lockout, as EMQX's dashboard: admMaxFailures failed logins within admFailWindow lock
// the username for admLockFor (unsuccessful_login_max_attempts, _interval, _lock_duration).
const (
	admMaxFailures = 5
	admFailWindow  = 5 * time.Minute
	admLockFor     = 10 * time.Minute
	// admMaxTracked bounds the usernames that are not admins the lockout remembers, so that
	// random usernames cannot grow it without limit. Admins are always tracked.
	admMaxTracked = 1000
)

// API key secret cache: a verified secret is remembered (as its SHA-256) for admKeyCacheTTL
// so that scripts do not pay a bcrypt per request. The key's row is still read every time,
// so disabling or deleting a key takes effect at once.
const (
	admKeyCacheTTL = 5 * time.Minute
	admKeyCacheMax = 256
)

// admDummyHash is compared against when the username does not exist, so that a login
// takes as long for an unknown user as for a wrong password.
const admDummyHash = "$2a$10$rguiRIIW1uWiE5bhikx.GueUytCryOaTLggewW59OxswV3jC6a.xy"

// admState is the in-memory part of dashboard access. Its zero value is ready to use.
type admState struct {
	logins admLoginGuard
	keys   admKeyCache
	// defaultPassword is true while the user admin still has the password "public".
	defaultPassword atomic.Bool
	// now is the clock of the lockout and the key cache; nil means time.Now. Tests set it
	// before the first request.
	now func() time.Time
	// hashCost is the bcrypt cost of new hashes; 0 means bcrypt.DefaultCost. Tests lower it:
	// with the race detector a default-cost hash takes most of a second.
	hashCost int
}

func (s *Server) admNow() time.Time {
	if s.adm.now != nil {
		return s.adm.now()
	}
	return time.Now()
}

// admHash is the bcrypt hash of a password or API key secret.
func (s *Server) admHash(secret string) (string, error) {
	cost := s.adm.hashCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
	return string(hash), err
}

// defaultPasswordInUse reports whether the user admin still has EMQX's default password; the
// dashboard shows a warning banner while it does.
func (s *Server) defaultPasswordInUse() bool { return s.adm.defaultPassword.Load() }

// admNotePassword updates the default-password flag after username's password changed (or,
// with an empty password, after the user was deleted).
func (s *Server) admNotePassword(username, password string) {
	if username == defaultAdmin {
		s.adm.defaultPassword.Store(password == defaultPassword)
	}
}

// signingKey returns the stored JWT key, generating it on the first start.
func signingKey(ctx context.Context, store *db.DB) ([]byte, error) {
	v, ok, err := store.Meta(ctx, metaJWTKey)
	if err != nil {
		return nil, err
	}
	if ok {
		return hex.DecodeString(v)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := store.SetMeta(ctx, metaJWTKey, hex.EncodeToString(key)); err != nil {
		return nil, err
	}
	return key, nil
}

// ensureAdmin creates the first admin when there is none: "admin" with the password from
// XGATE_ADMIN_PASSWORD, or EMQX's "public" with a warning. It also sets the default-password
// flag.
func (s *Server) ensureAdmin(ctx context.Context) error {
	admins, err := s.deps.Store.Admins(ctx)
	if err != nil {
		return err
	}
	if len(admins) > 0 {
		for _, a := range admins {
			if a.Username == defaultAdmin {
				s.adm.defaultPassword.Store(bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(defaultPassword)) == nil)
			}
		}
		return nil
	}
	pw := s.deps.AdminPassword
	if pw == "" {
		pw = defaultPassword
		s.deps.Log.Warn("created the dashboard user admin with the default password; change it (or set XGATE_ADMIN_PASSWORD before the first start)")
	}
	hash, err := s.admHash(pw)
	if err != nil {
		return err
	}
	if err := s.deps.Store.AddAdmin(ctx, db.Admin{Username: defaultAdmin, PasswordHash: hash, Role: admRoleAdministrator}); err != nil {
		return err
	}
	s.admNotePassword(defaultAdmin, pw)
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// login is POST /api/v5/login.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	a, err := s.authenticateAdmin(c.UserContext(), req.Username, req.Password)
	if err != nil {
		return err
	}
	token, err := s.issueToken(a)
	if err != nil {
		return err
	}
	resp := fiber.Map{"token": token, "role": a.Role, "version": s.deps.Version,
		"license": fiber.Map{"edition": "opensource"}}
	if s.defaultPasswordInUse() {
		resp["default_password"] = true
	}
	return c.JSON(resp)
}

// authenticateAdmin checks a dashboard user's name and password, with the login lockout:
// the API's login and the dashboard's both use it. A refusal is a 401 *APIError,
// LOGIN_LOCKED or BAD_USERNAME_OR_PWD. username must not point into a request buffer: the
// lockout keeps it.
func (s *Server) authenticateAdmin(ctx context.Context, username, password string) (db.Admin, error) {
	now := s.admNow()
	if s.adm.logins.locked(username, now) {
		return db.Admin{}, &APIError{Status: fiber.StatusUnauthorized, Code: "LOGIN_LOCKED",
			Message: fmt.Sprintf("Login locked after %d failed attempts; try again later", admMaxFailures)}
	}
	a, ok, err := s.deps.Store.Admin(ctx, username)
	if err != nil {
		return db.Admin{}, err
	}
	hash := admDummyHash
	if ok {
		hash = a.PasswordHash
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || !ok {
		if s.adm.logins.failed(username, ok, now) {
			s.deps.Log.Warn("dashboard login locked after repeated failures", "username", username,
				"attempts", admMaxFailures, "lock_duration", admLockFor)
		}
		return db.Admin{}, &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_USERNAME_OR_PWD", Message: "Auth failed"}
	}
	s.adm.logins.reset(username)
	return a, nil
}

// admClaims are a token's claims. Epoch is the admin's token epoch when the token was
// issued: a password or role change replaces it, which ends the token.
type admClaims struct {
	jwt.RegisteredClaims
	Role  string `json:"role"`
	Epoch string `json:"epoch"`
}

// issueToken signs a token for a that expires after the configured lifetime.
func (s *Server) issueToken(a db.Admin) (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	claims := admClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: tokenIssuer, Subject: a.Username, ID: hex.EncodeToString(jti),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.deps.TokenTTL)),
		},
		Role: a.Role, Epoch: a.TokenEpoch,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
}

// admBadToken is EMQX's answer to a token that is not, or no longer, valid.
func admBadToken(reason string) error {
	return &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_TOKEN", Message: "invalid token: " + reason}
}

// verifyToken checks a token's signature, expiry, revocation and epoch, and returns its
// claims. A token that does not pass is a 401 *APIError: TOKEN_TIME_OUT when it expired,
// BAD_TOKEN otherwise (forged, revoked by logout, or its admin deleted or changed password
// or role since), as EMQX answers.
func (s *Server) verifyToken(ctx context.Context, token string) (*admClaims, error) {
	claims := &admClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(tokenIssuer), jwt.WithExpirationRequired())
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, &APIError{Status: fiber.StatusUnauthorized, Code: "TOKEN_TIME_OUT",
			Message: "token expired; get a new one with POST /api/v5/login, or use an API key"}
	}
	if err != nil {
		return nil, admBadToken(err.Error())
	}
	revoked, err := s.deps.Store.TokenRevoked(ctx, claims.ID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, admBadToken("logged out")
	}
	a, ok, err := s.deps.Store.Admin(ctx, claims.Subject)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, admBadToken("its user no longer exists")
	}
	if claims.Epoch == "" || subtle.ConstantTimeCompare([]byte(a.TokenEpoch), []byte(claims.Epoch)) != 1 {
		return nil, admBadToken("ended by a password or role change")
	}
	return claims, nil
}

// requireAuth admits requests with a valid bearer token, or HTTP Basic with an enabled,
// unexpired API key and its secret (EMQX: api_key:api_secret). API keys may not manage
// users, API keys or sessions, as in EMQX (those paths are bearer-only there).
func (s *Server) requireAuth(c *fiber.Ctx) error {
	authorization := c.Get(fiber.HeaderAuthorization)
	if bearer, ok := strings.CutPrefix(authorization, "Bearer "); ok && bearer != "" {
		claims, err := s.verifyToken(c.UserContext(), bearer)
		if err != nil {
			return err
		}
		c.Locals(localAdmin, claims.Subject)
		c.Locals(admLocalClaims, claims)
		return c.Next()
	}
	if len(authorization) > len("Basic ") && strings.EqualFold(authorization[:len("Basic ")], "Basic ") {
		name, err := s.admAPIKeyAuth(c.UserContext(), authorization[len("Basic "):])
		if err != nil {
			return err
		}
		if admBearerOnly(c.Path()) {
			return &APIError{Status: fiber.StatusUnauthorized, Code: "API_KEY_NOT_ALLOW",
				Message: "Please use bearer Token instead, using API key/secret in " + c.Path() + " path is not permitted"}
		}
		c.Locals(localAdmin, name)
		return c.Next()
	}
	return &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_TOKEN", Message: "missing bearer token or API key"}
}

// admBearerOnly reports whether path is one that API keys may not use: dashboard users, API
// keys and logout. Routing ignores case and a trailing slash, so this does too.
func admBearerOnly(path string) bool {
	rest, ok := strings.CutPrefix(strings.ToLower(path), "/api/v5/")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(rest, "/")
	switch first {
	case "users", "api_key", "logout":
		return true
	}
	return false
}

// errBadAPIKey is EMQX's answer to wrong, disabled, expired or unknown API key credentials.
var errBadAPIKey = &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_API_KEY_OR_SECRET", Message: "Check api_key/api_secret"}

// admAPIKeyAuth checks HTTP Basic credentials, base64("api_key:api_secret"), and returns the
// key's name.
func (s *Server) admAPIKeyAuth(ctx context.Context, encoded string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", errBadAPIKey
	}
	key, secret, ok := strings.Cut(string(raw), ":")
	if !ok || key == "" || secret == "" {
		return "", errBadAPIKey
	}
	k, found, err := s.deps.Store.APIKeyByKey(ctx, key)
	if err != nil {
		return "", err
	}
	now := s.admNow()
	if !found || !k.Enable || k.Expired(now) || !s.admSecretMatches(k, secret, now) {
		return "", errBadAPIKey
	}
	return k.Name, nil
}

// admSecretMatches compares secret with the key's bcrypt hash, or with the cached digest of a
// secret that matched that same hash recently.
func (s *Server) admSecretMatches(k db.APIKey, secret string, now time.Time) bool {
	digest := sha256.Sum256([]byte(secret))
	if s.adm.keys.verified(k.Key, k.SecretHash, digest, now) {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(k.SecretHash), []byte(secret)) != nil {
		return false
	}
	s.adm.keys.remember(k.Key, k.SecretHash, digest, now)
	return true
}

// logout is POST /api/v5/logout: it revokes the presented token until it expires. The
// optional body {"username"} must name the token's owner, as in EMQX.
func (s *Server) logout(c *fiber.Ctx) error {
	claims, ok := c.Locals(admLocalClaims).(*admClaims)
	if !ok {
		return &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_TOKEN", Message: "logout needs a bearer token"}
	}
	var req struct {
		Username string `json:"username"`
	}
	if len(c.Body()) > 0 {
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
	}
	if req.Username != "" && req.Username != claims.Subject {
		return &APIError{Status: fiber.StatusUnauthorized, Code: "WRONG_TOKEN_OR_USERNAME", Message: "Ensure your token & username"}
	}
	if err := s.deps.Store.RevokeToken(c.UserContext(), claims.ID, claims.ExpiresAt.Unix(), time.Now().Unix()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// admLoginGuard counts failed logins per username and locks a username that failed
// admMaxFailures times within admFailWindow. Callers pass the time, which keeps it testable.
type admLoginGuard struct {
	mu      sync.Mutex
	entries map[string]*admLoginEntry
}

type admLoginEntry struct {
	failures    []time.Time // within admFailWindow of the latest, oldest first
	lockedUntil time.Time
}

// stale reports whether the entry no longer affects anything at now.
func (e *admLoginEntry) stale(now time.Time) bool {
	return !now.Before(e.lockedUntil) &&
		(len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) >= admFailWindow)
}

// locked reports whether username is locked at now.
func (g *admLoginGuard) locked(username string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[username]
	return e != nil && now.Before(e.lockedUntil)
}

// failed records a failed login at now and reports whether it locked username. known says
// whether username is an admin: those are always tracked, other names only while the table
// has room, so a flood of random names can neither grow it nor push an admin out.
func (g *admLoginGuard) failed(username string, known bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[username]
	if e == nil {
		if g.entries == nil {
			g.entries = make(map[string]*admLoginEntry)
		}
		if len(g.entries) >= admMaxTracked {
			for name, old := range g.entries {
				if old.stale(now) {
					delete(g.entries, name)
				}
			}
		}
		if len(g.entries) >= admMaxTracked && !known {
			return false
		}
		e = &admLoginEntry{}
		g.entries[username] = e
	}
	recent := e.failures[:0]
	for _, t := range e.failures {
		if now.Sub(t) < admFailWindow {
			recent = append(recent, t)
		}
	}
	e.failures = append(recent, now)
	if len(e.failures) < admMaxFailures {
		return false
	}
	e.failures = nil
	e.lockedUntil = now.Add(admLockFor)
	return true
}

// reset forgets username's failures and lock: after a successful login, a password change
// or the user's deletion.
func (g *admLoginGuard) reset(username string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, username)
}

// admKeyCache remembers API key secrets that bcrypt verified, by key, as the SHA-256 of the
// secret together with the hash it matched; an entry is only used while the stored hash is
// the same and for admKeyCacheTTL.
type admKeyCache struct {
	mu      sync.Mutex
	entries map[string]admKeyEntry
}

type admKeyEntry struct {
	secretHash string
	digest     [sha256.Size]byte
	until      time.Time
}

func (c *admKeyCache) verified(key, secretHash string, digest [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	return ok && now.Before(e.until) && e.secretHash == secretHash &&
		subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1
}

func (c *admKeyCache) remember(key, secretHash string, digest [sha256.Size]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]admKeyEntry)
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= admKeyCacheMax {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // still full: drop any one; it only costs a bcrypt later
			if len(c.entries) < admKeyCacheMax {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = admKeyEntry{secretHash: secretHash, digest: digest, until: now.Add(admKeyCacheTTL)}
}

// forget drops a deleted key's entry (its row is gone, so it would not be used anyway).
func (c *admKeyCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
