-- 0002: global authorization. The ordered rule list has its own rows so that one rule can be
-- added, moved or deleted by id; settings and sources are one JSON document in meta ("authz").

CREATE TABLE authz_rules (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- stable across moves; never reused
	position   INTEGER NOT NULL,
	rule       TEXT NOT NULL,                     -- the rule's JSON (authn/rules.Rule)
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE INDEX authz_rules_position ON authz_rules (position);

CREATE INDEX builtin_users_superuser ON builtin_users (authenticator_id, is_superuser);
