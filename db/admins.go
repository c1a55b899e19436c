package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Admin is a dashboard/API user. PasswordHash is bcrypt.
type Admin struct {
	Username     string `json:"username"`
	PasswordHash string `json:"-"`
	Role         string `json:"role"`
	Description  string `json:"description"`
}

// Admin returns the admin user named username.
func (d *DB) Admin(ctx context.Context, username string) (Admin, bool, error) {
	var a Admin
	err := d.sql.QueryRowContext(ctx, `SELECT username, password_hash, role, description FROM admins WHERE username = ?`,
		username).Scan(&a.Username, &a.PasswordHash, &a.Role, &a.Description)
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
	err := scanEach(ctx, d.sql, `SELECT username, password_hash, role, description FROM admins ORDER BY username`,
		func(scan func(...any) error) error {
			var a Admin
			err := scan(&a.Username, &a.PasswordHash, &a.Role, &a.Description)
			out = append(out, a)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("admins: %w", err)
	}
	return out, nil
}

// AddAdmin stores a new admin user; ErrExists if the name is taken.
func (d *DB) AddAdmin(ctx context.Context, a Admin) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO admins (username, password_hash, role, description) VALUES (?, ?, ?, ?)`,
		a.Username, a.PasswordHash, a.Role, a.Description)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("admin %s: %w", a.Username, ErrExists)
	}
	return err
}

// UpdateAdmin replaces an admin's password hash, role and description.
func (d *DB) UpdateAdmin(ctx context.Context, a Admin) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE admins SET password_hash = ?, role = ?, description = ? WHERE username = ?`,
		a.PasswordHash, a.Role, a.Description, a.Username)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("admin %s: %w", a.Username, ErrNotFound)
	}
	return nil
}

// DeleteAdmin removes an admin user.
func (d *DB) DeleteAdmin(ctx context.Context, username string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM admins WHERE username = ?`, username)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("admin %s: %w", username, ErrNotFound)
	}
	return nil
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
