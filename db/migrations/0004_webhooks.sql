-- 0004: outbound webhooks. Each enabled row has a worker that POSTs the gateway events it
-- names as JSON to its URL.

CREATE TABLE webhooks (
	name       TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL,              -- JSON array of event types ("client.connected", ...)
	headers    TEXT NOT NULL DEFAULT '{}', -- JSON object of extra request headers
	enable     INTEGER NOT NULL DEFAULT 1,
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
