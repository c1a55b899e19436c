package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/gateway"
)

// UserStore is the built-in users of one authenticator, looked up at every login so that
// added and removed users apply at once.
type UserStore struct {
	d   *DB
	ref gateway.AuthnRef
}

var _ builtin.UserStore = UserStore{}

// Users returns the built-in user store of the authenticator ref.
func (d *DB) Users(ref gateway.AuthnRef) UserStore { return UserStore{d: d, ref: ref} }

const userColumns = `u.user_id, u.password_hash, u.salt, u.is_superuser`

const userJoin = `builtin_users u JOIN authenticators a ON a.id = u.authenticator_id
	WHERE a.gateway = ? AND a.listener = ?`

func scanUser(scan func(...any) error) (builtin.User, error) {
	var u builtin.User
	err := scan(&u.UserID, &u.PasswordHash, &u.Salt, &u.IsSuperuser)
	return u, err
}

// LookupUser returns the user with id userID.
func (s UserStore) LookupUser(ctx context.Context, userID string) (builtin.User, bool, error) {
	row := s.d.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM `+userJoin+` AND u.user_id = ?`,
		s.ref.Gateway, s.ref.Listener, userID)
	u, err := scanUser(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return builtin.User{}, false, nil
	}
	if err != nil {
		return builtin.User{}, false, fmt.Errorf("authenticator %s: user lookup: %w", s.ref, err)
	}
	return u, true, nil
}

// UserQuery filters and pages a user listing (EMQX's query parameters).
type UserQuery struct {
	LikeUserID  string // substring of user_id
	IsSuperuser *bool
	Page, Limit int // from 1; Limit 0 means 100
}

// List returns one page of users ordered by user_id, and how many match in all.
func (s UserStore) List(ctx context.Context, q UserQuery) (users []builtin.User, total int, err error) {
	where := userJoin
	args := []any{s.ref.Gateway, s.ref.Listener}
	if q.LikeUserID != "" {
		where += ` AND instr(u.user_id, ?) > 0`
		args = append(args, q.LikeUserID)
	}
	if q.IsSuperuser != nil {
		where += ` AND u.is_superuser = ?`
		args = append(args, *q.IsSuperuser)
	}
	if err := s.d.sql.QueryRowContext(ctx, `SELECT count(*) FROM `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("authenticator %s: users: %w", s.ref, err)
	}
	limit, page := q.Limit, max(q.Page, 1)
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit, (page-1)*limit)
	err = scanEach(ctx, s.d.sql, `SELECT `+userColumns+` FROM `+where+` ORDER BY u.user_id LIMIT ? OFFSET ?`,
		func(scan func(...any) error) error {
			u, err := scanUser(scan)
			users = append(users, u)
			return err
		}, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("authenticator %s: users: %w", s.ref, err)
	}
	return users, total, nil
}

// authenticatorID returns the row id of the authenticator, or ErrNotFound.
func (s UserStore) authenticatorID(ctx context.Context, q queryer) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM authenticators WHERE gateway = ? AND listener = ?`,
		s.ref.Gateway, s.ref.Listener).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("authenticator %s: %w", s.ref, ErrNotFound)
	}
	return id, err
}

// Add stores a new user; ErrExists if the id is taken, ErrNotFound without the authenticator.
func (s UserStore) Add(ctx context.Context, u builtin.User) error {
	id, err := s.authenticatorID(ctx, s.d.sql)
	if err != nil {
		return err
	}
	_, err = s.d.sql.ExecContext(ctx, `INSERT INTO builtin_users (authenticator_id, user_id, password_hash, salt, is_superuser)
		VALUES (?, ?, ?, ?, ?)`, id, u.UserID, u.PasswordHash, u.Salt, u.IsSuperuser)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("user %s: %w", u.UserID, ErrExists)
	}
	return err
}

// Update replaces a user's password hash, salt and superuser flag.
func (s UserStore) Update(ctx context.Context, u builtin.User) error {
	id, err := s.authenticatorID(ctx, s.d.sql)
	if err != nil {
		return err
	}
	res, err := s.d.sql.ExecContext(ctx, `UPDATE builtin_users SET password_hash = ?, salt = ?, is_superuser = ?
		WHERE authenticator_id = ? AND user_id = ?`, u.PasswordHash, u.Salt, u.IsSuperuser, id, u.UserID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", u.UserID, ErrNotFound)
	}
	return nil
}

// Delete removes a user.
func (s UserStore) Delete(ctx context.Context, userID string) error {
	id, err := s.authenticatorID(ctx, s.d.sql)
	if err != nil {
		return err
	}
	res, err := s.d.sql.ExecContext(ctx, `DELETE FROM builtin_users WHERE authenticator_id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	return nil
}

// ImportResult counts an import as EMQX reports it.
type ImportResult struct {
	Total    int `json:"total"`
	Success  int `json:"success"`  // stored (new or replacing)
	Override int `json:"override"` // of success: replaced an existing user
	Skipped  int `json:"skipped"`  // a repeated user_id later in the same file
	Failed   int `json:"failed"`   // records that could not be read
}

// Import stores users in one transaction: an existing user is replaced, a user id repeated
// in the file is stored once (its first record). failed is the count of records the parser
// rejected, reported back in the result.
func (s UserStore) Import(ctx context.Context, users []builtin.User, failed int) (ImportResult, error) {
	res := ImportResult{Total: len(users) + failed, Failed: failed}
	tx, err := s.d.sql.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	id, err := s.authenticatorID(ctx, tx)
	if err != nil {
		return res, err
	}
	exists, err := tx.PrepareContext(ctx, `SELECT count(*) FROM builtin_users WHERE authenticator_id = ? AND user_id = ?`)
	if err != nil {
		return res, err
	}
	defer exists.Close()
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO builtin_users (authenticator_id, user_id, password_hash, salt, is_superuser)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (authenticator_id, user_id) DO UPDATE SET
		password_hash = excluded.password_hash, salt = excluded.salt, is_superuser = excluded.is_superuser`)
	if err != nil {
		return res, err
	}
	defer upsert.Close()
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u.UserID] {
			res.Skipped++
			continue
		}
		seen[u.UserID] = true
		var existed int
		if err := exists.QueryRowContext(ctx, id, u.UserID).Scan(&existed); err != nil {
			return ImportResult{}, fmt.Errorf("user %s: %w", u.UserID, err)
		}
		if _, err := upsert.ExecContext(ctx, id, u.UserID, u.PasswordHash, u.Salt, u.IsSuperuser); err != nil {
			return ImportResult{}, fmt.Errorf("user %s: %w", u.UserID, err)
		}
		res.Success++
		res.Override += existed
	}
	if err := tx.Commit(); err != nil {
		return ImportResult{}, err
	}
	return res, nil
}
