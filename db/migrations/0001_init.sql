-- 0001: gateway configuration, authenticators and their built-in users, dashboard admins, meta.
-- Config columns hold JSON with EMQX field names; listeners and authenticators live in their own
-- rows so that a listener or authenticator can change without rewriting its gateway.

CREATE TABLE gateways (
	name       TEXT PRIMARY KEY,
	config     TEXT NOT NULL, -- gateway.Config JSON without "listeners" and "authentication"
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE listeners (
	gateway    TEXT NOT NULL REFERENCES gateways(name) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	name       TEXT NOT NULL,
	config     TEXT NOT NULL, -- gateway.ListenerConfig JSON without "authentication"
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (gateway, type, name)
) STRICT;

-- AUTOINCREMENT so that an id, once handed out (API paths, builtin_users), is never reused.
CREATE TABLE authenticators (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	gateway    TEXT NOT NULL REFERENCES gateways(name) ON DELETE CASCADE,
	listener   TEXT NOT NULL DEFAULT '', -- '' = gateway level, else "<type>:<name>"
	config     TEXT NOT NULL,            -- the "authentication" JSON as given
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (gateway, listener)
) STRICT;

CREATE TABLE builtin_users (
	authenticator_id INTEGER NOT NULL REFERENCES authenticators(id) ON DELETE CASCADE,
	user_id          TEXT NOT NULL,
	password_hash    TEXT NOT NULL,
	salt             TEXT NOT NULL DEFAULT '',
	is_superuser     INTEGER NOT NULL DEFAULT 0,
	created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (authenticator_id, user_id)
) STRICT;

CREATE TABLE admins (
	username      TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL DEFAULT 'administrator',
	description   TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
