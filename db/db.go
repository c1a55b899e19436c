// Package db is xgate's storage: one SQLite file holding every gateway's configuration, the
// authenticators and their built-in users, dashboard admins and a few meta values. Gateway
// configuration changes go through Commit, which stores a change only if the runtime accepted it.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// busyTimeoutMS is how long a statement waits for another connection's write lock.
const busyTimeoutMS = 5000

// DB is an open xgate database. It is safe for concurrent use.
type DB struct {
	sql  *sql.DB
	path string
	log  *slog.Logger
	// sem serialises Commit and SeedOnce; a channel rather than a sync.Mutex so that a
	// waiting caller can give up when its context ends.
	sem chan struct{}
	// commitTx commits a write transaction; tests replace it to make COMMIT fail.
	commitTx func(*sql.Tx) error
}

// Open opens (creating if needed) the database at path and brings its schema up to date.
// log receives migration messages; nil discards them.
func Open(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	sqlDB, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := migrate(ctx, sqlDB, migrationFiles, log); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return &DB{
		sql:      sqlDB,
		path:     abs,
		log:      log,
		sem:      make(chan struct{}, 1),
		commitTx: (*sql.Tx).Commit,
	}, nil
}

// dsn builds the go-sqlite3 data source name. The pragmas are DSN parameters rather than
// statements run once, because database/sql opens new connections whenever it likes and
// every one of them needs them. _txlock=immediate makes every BeginTx a BEGIN IMMEDIATE, so a
// write transaction takes the write lock up front instead of failing with SQLITE_BUSY when it
// upgrades from a read.
func dsn(absPath string) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	// A file: URI so that '?' or '#' in the path cannot be taken for parameters.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(absPath), RawQuery: q.Encode()}
	return u.String()
}

// Close closes the database.
func (d *DB) Close() error {
	if err := d.sql.Close(); err != nil {
		return fmt.Errorf("database %s: %w", d.path, err)
	}
	return nil
}

// Meta returns the value stored under key and whether there is one.
func (d *DB) Meta(ctx context.Context, key string) (string, bool, error) {
	return getMeta(ctx, d.sql, key)
}

// SetMeta stores value under key, replacing any previous value.
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	return setMeta(ctx, d.sql, key, value)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getMeta(ctx context.Context, q queryer, key string) (string, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("meta %s: %w", key, err)
	}
	return v, true, nil
}

func setMeta(ctx context.Context, e execer, key, value string) error {
	_, err := e.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("meta %s: %w", key, err)
	}
	return nil
}

// lock takes the write-path lock, or gives up when ctx ends.
func (d *DB) lock(ctx context.Context) error {
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *DB) unlock() { <-d.sem }
