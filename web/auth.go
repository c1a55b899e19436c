package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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
	// localAdmin is the c.Locals key of the authenticated admin's name.
	localAdmin = "admin"
)

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
// XGATE_ADMIN_PASSWORD, or EMQX's "public" with a warning.
func (s *Server) ensureAdmin(ctx context.Context) error {
	admins, err := s.deps.Store.Admins(ctx)
	if err != nil || len(admins) > 0 {
		return err
	}
	pw := s.deps.AdminPassword
	if pw == "" {
		pw = defaultPassword
		s.deps.Log.Warn("created the dashboard user admin with the default password; change it (or set XGATE_ADMIN_PASSWORD before the first start)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return s.deps.Store.AddAdmin(ctx, db.Admin{Username: defaultAdmin, PasswordHash: string(hash), Role: "administrator"})
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
	a, ok, err := s.deps.Store.Admin(c.Context(), req.Username)
	if err != nil {
		return err
	}
	if !ok || bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(req.Password)) != nil {
		return &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_USERNAME_OR_PWD", Message: "Auth failed"}
	}
	token, err := s.issueToken(a.Username, a.Role)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"token": token, "role": a.Role, "version": s.deps.Version,
		"license": fiber.Map{"edition": "opensource"}})
}

// issueToken signs a token for username that expires after the configured lifetime.
func (s *Server) issueToken(username, role string) (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": tokenIssuer, "sub": username, "role": role, "jti": hex.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(s.deps.TokenTTL).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
}

// verifyToken checks a token's signature, expiry and revocation, and returns its claims.
func (s *Server) verifyToken(ctx context.Context, token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(tokenIssuer), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	jti, _ := claims["jti"].(string)
	revoked, err := s.deps.Store.TokenRevoked(ctx, jti)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errors.New("token revoked")
	}
	return claims, nil
}

// requireAuth admits requests with a valid bearer token.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	bearer, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || bearer == "" {
		return &APIError{Status: fiber.StatusUnauthorized, Code: "BAD_TOKEN", Message: "missing bearer token or API key"}
	}
	claims, err := s.verifyToken(c.Context(), bearer)
	if err != nil {
		return &APIError{Status: fiber.StatusUnauthorized, Code: "TOKEN_TIME_OUT", Message: fmt.Sprintf("invalid token: %v", err)}
	}
	c.Locals(localAdmin, claims["sub"])
	return c.Next()
}
