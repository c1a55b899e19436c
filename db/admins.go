package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Admin is a dashboard/API user. PasswordHash is bcrypt.
type Admin struct {
	Username     string `json:"username"`
	PasswordHash string `json:"-"`
	Role         string `json:"role"`
	Description  string `json:"description"`
	// TokenEpoch is stored in the admin's tokens; it is replaced when the password or the
	// role changes, which ends every token issued before.
	TokenEpoch string `json:"-"`
}

// ErrLastAdmin refuses deleting the only remaining administrator.
var ErrLastAdmin = errors.New("the last administrator cannot be deleted")

// roleAdministrator is EMQX's administrator role, the one DeleteAdmin keeps at least one of.
const roleAdministrator = "administrator"

const adminColumns = `username, password_hash, role, description, token_epoch`

// Admin returns the admin user named username.
func (d *DB) Admin(ctx context.Context, username string) (Admin, bool, error) {
	var a Admin
	err := d.sql.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE username = ?`,
		username).Scan(&a.Username, &a.PasswordHash, &a.Role, &a.Description, &a.TokenEpoch)
	if errors.Is(err, sql.ErrNoRows) {
		return Admin{}, false, nil
	}
	if err != nil {
		return Admin{}, false, fmt.Errorf("admin %s: %w", username, err)
	}
	return a, true, nil
}

// Admins lists the admin users by name.
func (d *DB) Admins(ctx context.Context) ([]Admin, error) {
	var out []Admin
	err := scanEach(ctx, d.sql, `SELECT `+adminColumns+` FROM admins ORDER BY username`,
		func(scan func(...any) error) error {
			var a Admin
			err := scan(&a.Username, &a.PasswordHash, &a.Role, &a.Description, &a.TokenEpoch)
			out = append(out, a)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("admins: %w", err)
	}
	return out, nil
}

// AddAdmin stores a new admin user with a fresh token epoch; ErrExists if the name is taken.
func (d *DB) AddAdmin(ctx context.Context, a Admin) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO admins (username, password_hash, role, description, token_epoch)
		VALUES (?, ?, ?, ?, lower(hex(randomblob(8))))`,
		a.Username, a.PasswordHash, a.Role, a.Description)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("admin %s: %w", a.Username, ErrExists)
	}
	return err
}

// UpdateAdminProfile changes an admin's role and description (nil keeps the stored value)
// and returns the admin as stored. A changed role also replaces the token epoch, so the
// admin's tokens stop working (as EMQX destroys a user's tokens then).
func (d *DB) UpdateAdminProfile(ctx context.Context, username string, role, description *string) (Admin, error) {
	var a Admin
	err := d.sql.QueryRowContext(ctx, `UPDATE admins SET
		token_epoch = CASE WHEN role != COALESCE(?1, role) THEN lower(hex(randomblob(8))) ELSE token_epoch END,
		role = COALESCE(?1, role), description = COALESCE(?2, description)
		WHERE username = ?3 RETURNING `+adminColumns, role, description, username).
		Scan(&a.Username, &a.PasswordHash, &a.Role, &a.Description, &a.TokenEpoch)
	if errors.Is(err, sql.ErrNoRows) {
		return Admin{}, fmt.Errorf("admin %s: %w", username, ErrNotFound)
	}
	if err != nil {
		return Admin{}, fmt.Errorf("admin %s: %w", username, err)
	}
	return a, nil
}

// SetAdminPassword replaces an admin's password hash and token epoch: the admin's tokens
// stop working, as EMQX destroys a user's tokens when the password changes.
func (d *DB) SetAdminPassword(ctx context.Context, username, passwordHash string) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE admins SET password_hash = ?, token_epoch = lower(hex(randomblob(8)))
		WHERE username = ?`, passwordHash, username)
	if err != nil {
		return fmt.Errorf("admin %s: %w", username, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("admin %s: %w", username, ErrNotFound)
	}
	return nil
}

// DeleteAdmin removes an admin user: ErrNotFound if there is none, ErrLastAdmin if it is
// the only administrator (checked in the same statement, so two concurrent deletes cannot
// remove the last two).
func (d *DB) DeleteAdmin(ctx context.Context, username string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM admins WHERE username = ?1
		AND (role != ?2 OR (SELECT count(*) FROM admins WHERE role = ?2) > 1)`, username, roleAdministrator)
	if err != nil {
		return fmt.Errorf("admin %s: %w", username, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	if _, ok, err := d.Admin(ctx, username); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("admin %s: %w", username, ErrLastAdmin)
	}
	return fmt.Errorf("admin %s: %w", username, ErrNotFound)
}

// RevokeToken records a token id as revoked until expiresAt (Unix seconds), and prunes
// revocations of tokens that have expired anyway.
func (d *DB) RevokeToken(ctx context.Context, jti string, expiresAt, now int64) error {
	if _, err := d.sql.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at < ?`, now); err != nil {
		return err
	}
	_, err := d.sql.ExecContext(ctx, `INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)`, jti, expiresAt)
	return err
}

// TokenRevoked reports whether a token id was revoked.
func (d *DB) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var n int
	err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM revoked_tokens WHERE jti = ?`, jti).Scan(&n)
	return n > 0, err
}

// APIKey is a key for scripts (EMQX's api_key): HTTP Basic with Key and the secret, of which
// only the bcrypt SecretHash is kept.
type APIKey struct {
	Name        string
	Key         string
	SecretHash  string
	Enable      bool
	ExpiredAt   time.Time // zero: never expires
	Description string
	CreatedAt   time.Time // set by AddAPIKey
}

// Expired reports whether the key's expiry has passed at now.
func (k APIKey) Expired(now time.Time) bool {
	return !k.ExpiredAt.IsZero() && !now.Before(k.ExpiredAt)
}

const apiKeyColumns = `name, api_key, secret_hash, enable, expired_at, description, created_at`

// APIKeys lists the API keys by name.
func (d *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	var out []APIKey
	err := scanEach(ctx, d.sql, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY name`,
		func(scan func(...any) error) error {
			k, err := scanAPIKey(scan)
			out = append(out, k)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	return out, nil
}

// APIKeyByName returns the API key called name.
func (d *DB) APIKeyByName(ctx context.Context, name string) (APIKey, bool, error) {
	return d.apiKeyWhere(ctx, "name", name)
}

// APIKeyByKey returns the API key whose public part (the Basic auth user) is key.
func (d *DB) APIKeyByKey(ctx context.Context, key string) (APIKey, bool, error) {
	return d.apiKeyWhere(ctx, "api_key", key)
}

// apiKeyWhere looks a key up by column, which is one of the two unique columns above.
func (d *DB) apiKeyWhere(ctx context.Context, column, value string) (APIKey, bool, error) {
	k, err := scanAPIKey(d.sql.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE `+column+` = ?`, value).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, false, nil
	}
	if err != nil {
		return APIKey{}, false, fmt.Errorf("api key %s: %w", value, err)
	}
	return k, true, nil
}

func scanAPIKey(scan func(...any) error) (APIKey, error) {
	var k APIKey
	var expired sql.NullInt64
	var created string
	if err := scan(&k.Name, &k.Key, &k.SecretHash, &k.Enable, &expired, &k.Description, &created); err != nil {
		return APIKey{}, err
	}
	if expired.Valid {
		k.ExpiredAt = time.Unix(expired.Int64, 0).UTC()
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return APIKey{}, fmt.Errorf("api key %s: created_at: %w", k.Name, err)
	}
	k.CreatedAt = t
	return k, nil
}

// AddAPIKey stores a new API key and returns it with its creation time; ErrExists if the
// name is taken.
func (d *DB) AddAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	var created string
	err := d.sql.QueryRowContext(ctx, `INSERT INTO api_keys (name, api_key, secret_hash, enable, expired_at, description)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING created_at`,
		k.Name, k.Key, k.SecretHash, k.Enable, unixOrNull(k.ExpiredAt), k.Description).Scan(&created)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: api_keys.name") {
		return APIKey{}, fmt.Errorf("api key %s: %w", k.Name, ErrExists)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("api key %s: %w", k.Name, err)
	}
	if k.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return APIKey{}, fmt.Errorf("api key %s: created_at: %w", k.Name, err)
	}
	return k, nil
}

// UpdateAPIKey replaces the enable flag, expiry and description of the key called k.Name;
// the key and its secret never change.
func (d *DB) UpdateAPIKey(ctx context.Context, k APIKey) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE api_keys SET enable = ?, expired_at = ?, description = ? WHERE name = ?`,
		k.Enable, unixOrNull(k.ExpiredAt), k.Description, k.Name)
	if err != nil {
		return fmt.Errorf("api key %s: %w", k.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("api key %s: %w", k.Name, ErrNotFound)
	}
	return nil
}

// DeleteAPIKey removes the key called name.
func (d *DB) DeleteAPIKey(ctx context.Context, name string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM api_keys WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("api key %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("api key %s: %w", name, ErrNotFound)
	}
	return nil
}

func unixOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}
