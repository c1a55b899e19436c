-- 0003: dashboard/API access: tokens revoked by logout (until they expire anyway), API keys
-- for scripts, and a per-admin token epoch. Admin users are the admins table of 0001.

CREATE TABLE revoked_tokens (
	jti        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL -- Unix seconds; rows past it are pruned
) STRICT;

CREATE TABLE api_keys (
	name        TEXT PRIMARY KEY,
	api_key     TEXT NOT NULL UNIQUE,
	secret_hash TEXT NOT NULL, -- bcrypt
	enable      INTEGER NOT NULL DEFAULT 1,
	expired_at  INTEGER,       -- Unix seconds; NULL = never
	description TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- token_epoch is copied into every token issued to the admin; a new epoch (password or role
-- changed) ends all of them at once, and a re-created user never inherits an old one.
ALTER TABLE admins ADD COLUMN token_epoch TEXT NOT NULL DEFAULT '';
UPDATE admins SET token_epoch = lower(hex(randomblob(8)));
