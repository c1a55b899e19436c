package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/backend"
	"github.com/xgate/xgate/authn/rules"
	"github.com/xgate/xgate/db"
)

// authzRoutes registers the routes of this file under the authenticated /api/v5 group.
// Every change goes through azCommit: the new authorization is built first, so a bad rule
// or source is refused with 400 and nothing changes. Handlers give c.UserContext(), not
// c.Context(), to what takes a context: fasthttp's RequestCtx reads a field of the server
// that Shutdown writes without synchronisation, which a derived context's goroutine races.
func (s *Server) authzRoutes(r fiber.Router) {
	r.Get("/authorization/settings", s.azGetSettings)
	r.Put("/authorization/settings", s.azPutSettings)

	r.Get("/authorization/sources", s.azListSources)
	r.Post("/authorization/sources", s.azAddSource)
	r.Get("/authorization/sources/:type", s.azGetSource)
	r.Put("/authorization/sources/:type", s.azPutSource)
	r.Delete("/authorization/sources/:type", s.azDeleteSource)
	r.Post("/authorization/sources/:type/move", s.azMoveSource)

	r.Get("/authorization/rules", s.azListRules)
	r.Post("/authorization/rules", s.azAddRule)
	r.Post("/authorization/rules/import", s.azImportRules)
	r.Get("/authorization/rules/export", s.azExportRules)
	r.Get("/authorization/rules/:id", s.azGetRule)
	r.Put("/authorization/rules/:id", s.azPutRule)
	r.Delete("/authorization/rules/:id", s.azDeleteRule)
	r.Post("/authorization/rules/:id/move", s.azMoveRule)

	r.Post("/authorization/check", s.azCheck)
}

// azCommit stores the authorization edit makes if, and only if, it can be built and
// swapped in. An edit's own errors are APIErrors; a refused build is a 400.
func (s *Server) azCommit(ctx context.Context, edit func(*db.AuthzConfig) error) (db.AuthzConfig, error) {
	cfg, err := s.deps.Store.CommitAuthz(ctx, edit, func(cfg db.AuthzConfig) error {
		if err := s.deps.Access.ApplyAuthz(cfg); err != nil {
			return badRequest(err.Error())
		}
		return nil
	})
	var ae *APIError
	if errors.As(err, &ae) {
		return cfg, ae
	}
	return cfg, err
}

func azNotFound(what string) error {
	return &APIError{Status: fiber.StatusNotFound, Code: "NOT_FOUND", Message: "Not found: " + what}
}

// --- settings ---

// azCache is EMQX's authorization cache setting; xgate has no cache, so only "off" is
// accepted (and reported).
type azCache struct {
	Enable bool `json:"enable"`
}

type azSettings struct {
	NoMatch    *string  `json:"no_match"`
	DenyAction *string  `json:"deny_action"`
	Cache      *azCache `json:"cache"`
}

func azSettingsView(cfg db.AuthzConfig) fiber.Map {
	return fiber.Map{"no_match": cfg.NoMatch, "deny_action": cfg.DenyAction, "cache": azCache{}}
}

// azGetSettings is GET /api/v5/authorization/settings.
func (s *Server) azGetSettings(c *fiber.Ctx) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(azSettingsView(cfg))
}

// azPutSettings is PUT /api/v5/authorization/settings; a field left out keeps its value.
func (s *Server) azPutSettings(c *fiber.Ctx) error {
	var body azSettings
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.Cache != nil && body.Cache.Enable {
		return badRequest("cache.enable: xgate has no authorization cache (rules apply to the next request); only false is accepted")
	}
	cfg, err := s.azSaveSettings(c.UserContext(), body.NoMatch, body.DenyAction)
	if err != nil {
		return err
	}
	return c.JSON(azSettingsView(cfg))
}

// azSaveSettings sets no_match and deny_action (nil keeps the stored value): the API's PUT
// and the dashboard's settings form.
func (s *Server) azSaveSettings(ctx context.Context, noMatch, denyAction *string) (db.AuthzConfig, error) {
	return s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		if noMatch != nil {
			cfg.NoMatch = *noMatch
		}
		if denyAction != nil {
			cfg.DenyAction = *denyAction
		}
		return nil
	})
}

// --- sources ---

// azSourceType reads the "type" of a stored or sent source.
func azSourceType(raw json.RawMessage) string {
	var k struct {
		Type string `json:"type"`
	}
	json.Unmarshal(raw, &k)
	return k.Type
}

func azFindSource(cfg *db.AuthzConfig, typ string) int {
	return slices.IndexFunc(cfg.Sources, func(raw json.RawMessage) bool { return azSourceType(raw) == typ })
}

// azSourceView is a source as answers show it: headers that carry credentials and a URL's
// password are masked.
func azSourceView(raw json.RawMessage) json.RawMessage {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return raw
	}
	if u, ok := m["url"].(string); ok {
		m["url"] = evMaskURL(u)
	}
	if h, ok := m["headers"].(map[string]any); ok {
		for k := range h {
			if evSecretHeader(k) {
				h[k] = evSecretMask
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// azSourceBody reads a source from the request body: a JSON object whose "type", when
// present, must be typ (when typ is not ""). Masked secrets are replaced by those of stored.
func azSourceBody(c *fiber.Ctx, typ string, stored json.RawMessage) (json.RawMessage, error) {
	if body := bytes.TrimSpace(c.Body()); len(body) > 0 && body[0] != '{' {
		return nil, badRequest("the body must be a JSON object (a source)")
	}
	var m map[string]json.RawMessage
	if err := decodeStrict(c, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, badRequest("the body must be a JSON object (a source)")
	}
	var got string
	if raw, ok := m["type"]; ok {
		if json.Unmarshal(raw, &got) != nil {
			return nil, badRequest("type: must be a string")
		}
	}
	switch {
	case typ == "" && got == "":
		return nil, badRequest("type: required (rules or http)")
	case typ != "" && got != "" && got != typ:
		return nil, badRequest(fmt.Sprintf("type: %q differs from the path's %q", got, typ))
	case typ != "":
		m["type"], _ = json.Marshal(typ)
	}
	if stored != nil {
		azUnmaskSource(m, stored)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	// Built alone first, so that an error names the field rather than the source's place.
	if _, err := backend.Sources([]json.RawMessage{raw}, nil, slog.New(slog.DiscardHandler)); err != nil {
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, "sources[0]"); ok {
			msg = strings.TrimPrefix(strings.TrimPrefix(rest, "."), ": ")
		}
		return nil, badRequest(msg)
	}
	return raw, nil
}

// azUnmaskSource puts back the stored URL and header values that a client sent back masked.
func azUnmaskSource(m map[string]json.RawMessage, stored json.RawMessage) {
	var old struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	json.Unmarshal(stored, &old)
	var u string
	if json.Unmarshal(m["url"], &u) == nil && u != "" && u == evMaskURL(old.URL) {
		m["url"], _ = json.Marshal(old.URL)
	}
	var h map[string]any
	if json.Unmarshal(m["headers"], &h) != nil || h == nil {
		return
	}
	hs := map[string]string{}
	for k, v := range h {
		if str, ok := v.(string); ok {
			hs[k] = str
		}
	}
	evUnmaskHeaders(hs, old.Headers)
	for k, v := range hs {
		h[k] = v
	}
	m["headers"], _ = json.Marshal(h)
}

// azListSources is GET /api/v5/authorization/sources: {"sources": [...]} in order.
func (s *Server) azListSources(c *fiber.Ctx) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	list := make([]json.RawMessage, len(cfg.Sources))
	for i, raw := range cfg.Sources {
		list[i] = azSourceView(raw)
	}
	return c.JSON(fiber.Map{"sources": list})
}

// azAddSource is POST /api/v5/authorization/sources: the new source is asked first (as
// EMQX); 204. One source per type.
func (s *Server) azAddSource(c *fiber.Ctx) error {
	raw, err := azSourceBody(c, "", nil)
	if err != nil {
		return err
	}
	typ := azSourceType(raw)
	_, err = s.azCommit(c.UserContext(), func(cfg *db.AuthzConfig) error {
		if azFindSource(cfg, typ) >= 0 {
			return &APIError{Status: fiber.StatusConflict, Code: "ALREADY_EXISTS", Message: "a " + typ + " source exists already"}
		}
		cfg.Sources = append([]json.RawMessage{raw}, cfg.Sources...)
		return nil
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// azGetSource is GET /api/v5/authorization/sources/{type}.
func (s *Server) azGetSource(c *fiber.Ctx) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	i := azFindSource(&cfg, c.Params("type"))
	if i < 0 {
		return azNotFound(c.Params("type"))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(azSourceView(cfg.Sources[i]))
}

// azPutSource is PUT /api/v5/authorization/sources/{type}: replaces it in place; 204.
func (s *Server) azPutSource(c *fiber.Ctx) error {
	typ := c.Params("type")
	stored, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	i := azFindSource(&stored, typ)
	if i < 0 {
		return azNotFound(typ)
	}
	raw, err := azSourceBody(c, typ, stored.Sources[i])
	if err != nil {
		return err
	}
	_, err = s.azCommit(c.UserContext(), func(cfg *db.AuthzConfig) error {
		i := azFindSource(cfg, typ)
		if i < 0 {
			return azNotFound(typ)
		}
		cfg.Sources[i] = raw
		return nil
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// azDeleteSource is DELETE /api/v5/authorization/sources/{type}; 204. Deleting the rules
// source keeps the stored rules, unused until a rules source is added again.
func (s *Server) azDeleteSource(c *fiber.Ctx) error {
	typ := c.Params("type")
	_, err := s.azCommit(c.UserContext(), func(cfg *db.AuthzConfig) error {
		i := azFindSource(cfg, typ)
		if i < 0 {
			return azNotFound(typ)
		}
		cfg.Sources = slices.Delete(cfg.Sources, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// azMoveBody is the body of the move routes.
type azMoveBody struct {
	Position string `json:"position"`
}

// azMoveSource is POST /api/v5/authorization/sources/{type}/move
// {"position": "front" | "rear" | "before:<type>" | "after:<type>"}; 204.
func (s *Server) azMoveSource(c *fiber.Ctx) error {
	typ := c.Params("type")
	var body azMoveBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	pos, err := azParsePosition(body.Position, false)
	if err != nil {
		return err
	}
	_, err = s.azCommit(c.UserContext(), func(cfg *db.AuthzConfig) error {
		i := azFindSource(cfg, typ)
		if i < 0 {
			return azNotFound(typ)
		}
		moved := cfg.Sources[i]
		rest := slices.Delete(slices.Clone(cfg.Sources), i, i+1)
		next, err := azPlace(rest, moved, pos, "source", azSourceType)
		cfg.Sources = next
		return err
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// --- positions ---

// azPosition is where an item goes in an ordered list: front, rear, or before or after
// the item whose key is ref.
type azPosition struct {
	where string // "front", "rear", "before", "after"
	ref   string
}

// azParsePosition reads EMQX's position syntax; "" is the rear when optional.
func azParsePosition(s string, optional bool) (azPosition, error) {
	switch {
	case s == "" && optional, s == "rear":
		return azPosition{where: "rear"}, nil
	case s == "front":
		return azPosition{where: "front"}, nil
	}
	for _, where := range []string{"before", "after"} {
		if ref, ok := strings.CutPrefix(s, where+":"); ok && ref != "" {
			return azPosition{where: where, ref: ref}, nil
		}
	}
	return azPosition{}, badRequest(fmt.Sprintf(`position: %q is not "front", "rear", "before:<ref>" or "after:<ref>"`, s))
}

// azPlace inserts item into list at pos; key names the items that pos may refer to.
func azPlace[T any](list []T, item T, pos azPosition, what string, key func(T) string) ([]T, error) {
	at := len(list)
	switch pos.where {
	case "front":
		at = 0
	case "before", "after":
		if pos.ref == key(item) {
			return nil, badRequest(fmt.Sprintf("position: a %s cannot be moved relative to itself", what))
		}
		at = slices.IndexFunc(list, func(x T) bool { return key(x) == pos.ref })
		if at < 0 {
			return nil, badRequest(fmt.Sprintf("position: no %s %s", what, pos.ref))
		}
		if pos.where == "after" {
			at++
		}
	}
	return slices.Insert(list, at, item), nil
}

// --- rules ---

func azRuleKey(r db.StoredRule) string { return strconv.FormatInt(r.ID, 10) }

// azRuleView is a stored rule as answers show it: {"id": N, ...the rule}.
func azRuleView(r db.StoredRule) json.RawMessage {
	body := bytes.TrimSpace(r.Rule)
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	b.WriteString(strconv.FormatInt(r.ID, 10))
	if rest, ok := bytes.CutPrefix(body, []byte("{")); ok {
		if rest = bytes.TrimSpace(rest); !bytes.HasPrefix(rest, []byte("}")) {
			b.WriteByte(',')
		}
		b.Write(rest)
	} else {
		b.WriteByte('}')
	}
	return b.Bytes()
}

// azRuleBody splits the request body into the rule (checked with rules.Rule's strict
// decoding and Validate, then re-encoded) and the members named in extra, which are not
// part of a rule.
func azRuleBody(c *fiber.Ctx, extra ...string) (json.RawMessage, map[string]json.RawMessage, error) {
	body := c.Body()
	if err := json.Unmarshal(body, new(json.RawMessage)); err != nil {
		return nil, nil, badRequest(decodeMessage(err))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, badRequest("the body must be a JSON object (a rule)")
	}
	var rest bytes.Buffer
	rest.WriteByte('{')
	found := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, badRequest(decodeMessage(err))
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, nil, badRequest(decodeMessage(err))
		}
		if slices.Contains(extra, key) {
			if _, dup := found[key]; dup {
				return nil, nil, badRequest(fmt.Sprintf("%s: repeated", key))
			}
			found[key] = value
			continue
		}
		if rest.Len() > 1 {
			rest.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		rest.Write(k)
		rest.WriteByte(':')
		rest.Write(value)
	}
	rest.WriteByte('}')
	var r rules.Rule
	if err := r.UnmarshalJSON(rest.Bytes()); err != nil {
		return nil, nil, badRequest(err.Error())
	}
	canonical, err := azEncodeRule(r)
	if err != nil {
		return nil, nil, err
	}
	return canonical, found, nil
}

// azEncodeRule checks r (Validate) and encodes it as it is stored. An error is a 400 whose
// message starts with the rule's field ("who.ipaddr: ...").
func azEncodeRule(r rules.Rule) (json.RawMessage, error) {
	if err := r.Validate(); err != nil {
		return nil, badRequest(err.Error())
	}
	canonical, err := json.Marshal(r)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return canonical, nil
}

// azRuleID reads the {id} of the path; anything but a number is no rule.
func azRuleID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, azNotFound("rule " + c.Params("id"))
	}
	return id, nil
}

func azFindRule(cfg *db.AuthzConfig, id int64) int {
	return slices.IndexFunc(cfg.Rules, func(r db.StoredRule) bool { return r.ID == id })
}

// azListRules is GET /api/v5/authorization/rules: {"data": [{id, ...rule}]} in order.
func (s *Server) azListRules(c *fiber.Ctx) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	data := make([]json.RawMessage, len(cfg.Rules))
	for i, r := range cfg.Rules {
		data[i] = azRuleView(r)
	}
	return c.JSON(fiber.Map{"data": data})
}

// azAddRule is POST /api/v5/authorization/rules: the rule, placed by its "position" member
// or ?position= (front | rear, the default | before:<id> | after:<id>); 201 with its id.
func (s *Server) azAddRule(c *fiber.Ctx) error {
	rule, extra, err := azRuleBody(c, "position", "id")
	if err != nil {
		return err
	}
	if _, ok := extra["id"]; ok {
		return badRequest("id: assigned by xgate; leave it out")
	}
	where := c.Query("position")
	if raw, ok := extra["position"]; ok {
		if json.Unmarshal(raw, &where) != nil {
			return badRequest("position: must be a string")
		}
	}
	pos, err := azParsePosition(where, true)
	if err != nil {
		return err
	}
	added, err := s.azInsertRule(c.UserContext(), rule, pos)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(fiber.StatusCreated).Send(azRuleView(added))
}

// azInsertRule adds rule (encoded by azEncodeRule) at pos and returns it with its new id.
func (s *Server) azInsertRule(ctx context.Context, rule json.RawMessage, pos azPosition) (db.StoredRule, error) {
	var at int
	cfg, err := s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		added := db.StoredRule{Rule: rule}
		next, err := azPlace(slices.Clone(cfg.Rules), added, pos, "rule", azRuleKey)
		if err != nil {
			return err
		}
		cfg.Rules = next
		at = slices.IndexFunc(next, func(r db.StoredRule) bool { return r.ID == 0 })
		return nil
	})
	if err != nil {
		return db.StoredRule{}, err
	}
	return cfg.Rules[at], nil
}

// azGetRule is GET /api/v5/authorization/rules/{id}.
func (s *Server) azGetRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	i := azFindRule(&cfg, id)
	if i < 0 {
		return azNotFound("rule " + c.Params("id"))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(azRuleView(cfg.Rules[i]))
}

// azPutRule is PUT /api/v5/authorization/rules/{id}: replaces the rule, keeping its id
// and place; 200 with it.
func (s *Server) azPutRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	rule, extra, err := azRuleBody(c, "position", "id")
	if err != nil {
		return err
	}
	if _, ok := extra["position"]; ok {
		return badRequest("position: move a rule with POST /api/v5/authorization/rules/{id}/move")
	}
	if raw, ok := extra["id"]; ok {
		var got int64
		if json.Unmarshal(raw, &got) != nil || got != id {
			return badRequest(fmt.Sprintf("id: %s differs from the path's %d", raw, id))
		}
	}
	stored, err := s.azReplaceRule(c.UserContext(), id, rule)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(azRuleView(stored))
}

// azReplaceRule replaces the rule id with rule (encoded by azEncodeRule), keeping its place.
func (s *Server) azReplaceRule(ctx context.Context, id int64, rule json.RawMessage) (db.StoredRule, error) {
	cfg, err := s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		i := azFindRule(cfg, id)
		if i < 0 {
			return azRuleNotFound(id)
		}
		cfg.Rules[i].Rule = rule
		return nil
	})
	if err != nil {
		return db.StoredRule{}, err
	}
	return cfg.Rules[azFindRule(&cfg, id)], nil
}

func azRuleNotFound(id int64) error { return azNotFound("rule " + strconv.FormatInt(id, 10)) }

// azDeleteRule is DELETE /api/v5/authorization/rules/{id}; 204.
func (s *Server) azDeleteRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	if err := s.azRemoveRule(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// azRemoveRule deletes the rule id.
func (s *Server) azRemoveRule(ctx context.Context, id int64) error {
	_, err := s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		i := azFindRule(cfg, id)
		if i < 0 {
			return azRuleNotFound(id)
		}
		cfg.Rules = slices.Delete(cfg.Rules, i, i+1)
		return nil
	})
	return err
}

// azMoveRule is POST /api/v5/authorization/rules/{id}/move
// {"position": "front" | "rear" | "before:<id>" | "after:<id>"}; 204.
func (s *Server) azMoveRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	var body azMoveBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	pos, err := azParsePosition(body.Position, false)
	if err != nil {
		return err
	}
	if err := s.azMoveRuleTo(c.UserContext(), id, pos); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// azMoveRuleTo moves the rule id to pos.
func (s *Server) azMoveRuleTo(ctx context.Context, id int64, pos azPosition) error {
	_, err := s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		i := azFindRule(cfg, id)
		if i < 0 {
			return azRuleNotFound(id)
		}
		moved := cfg.Rules[i]
		rest := slices.Delete(slices.Clone(cfg.Rules), i, i+1)
		next, err := azPlace(rest, moved, pos, "rule", azRuleKey)
		cfg.Rules = next
		return err
	})
	return err
}

// azImportRules is POST /api/v5/authorization/rules/import: the body is an EMQX acl.conf;
// ?mode=replace (the default) replaces the rule list, ?mode=append adds to its end. 200
// with the number of rules imported. A file with any error imports nothing.
func (s *Server) azImportRules(c *fiber.Ctx) error {
	count, total, err := s.azImportACL(c.UserContext(), string(c.Body()), c.Query("mode", "replace"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"count": count, "mode": c.Query("mode", "replace"), "total": total})
}

// azImportACL reads an acl.conf and replaces the rule list with its rules (mode "replace")
// or adds them to its end ("append"); it returns how many it imported and how many rules
// there are now. A file with any error imports nothing; its error says "acl.conf: line N".
func (s *Server) azImportACL(ctx context.Context, text, mode string) (count, total int, err error) {
	if mode != "replace" && mode != "append" {
		return 0, 0, badRequest(fmt.Sprintf("mode: %q is not replace or append", mode))
	}
	if strings.TrimSpace(text) == "" {
		return 0, 0, badRequest("the body must be the text of an acl.conf file")
	}
	parsed, err := rules.ParseACLFile(text)
	if err != nil {
		return 0, 0, badRequest("acl.conf: " + err.Error())
	}
	imported := make([]db.StoredRule, len(parsed))
	for i, r := range parsed {
		raw, err := json.Marshal(r)
		if err != nil {
			return 0, 0, badRequest(err.Error())
		}
		imported[i] = db.StoredRule{Rule: raw}
	}
	cfg, err := s.azCommit(ctx, func(cfg *db.AuthzConfig) error {
		if mode == "replace" {
			cfg.Rules = imported
		} else {
			cfg.Rules = append(slices.Clone(cfg.Rules), imported...)
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return len(imported), len(cfg.Rules), nil
}

// azExportRules is GET /api/v5/authorization/rules/export: the rule list as an acl.conf,
// which the import reads back into the same rules.
func (s *Server) azExportRules(c *fiber.Ctx) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	text, err := azExportACL(cfg)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="acl.conf"`)
	return c.SendString(text)
}

// azExportACL writes the rule list of cfg as an acl.conf.
func azExportACL(cfg db.AuthzConfig) (string, error) {
	var b strings.Builder
	for _, stored := range cfg.Rules {
		var r rules.Rule
		if err := r.UnmarshalJSON(stored.Rule); err != nil {
			return "", fmt.Errorf("rule %d: stored JSON: %w", stored.ID, err)
		}
		b.WriteString(r.ACL())
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// --- tester ---

// azCheckBody is the request the dashboard's tester asks about.
type azCheckBody struct {
	ClientID    string            `json:"clientid"`
	Username    string            `json:"username"`
	PeerHost    string            `json:"peerhost"`
	Listener    string            `json:"listener"`
	Protocol    string            `json:"protocol"`
	IsSuperuser bool              `json:"is_superuser"`
	ClientAttrs map[string]string `json:"client_attrs"`
	Action      string            `json:"action"`
	Topic       string            `json:"topic"`
	QoS         int               `json:"qos"`
	Retain      bool              `json:"retain"`
}

// azCheck is POST /api/v5/authorization/check: what the running authorization answers
// (every source is asked, an HTTP source included) and which rule decided.
func (s *Server) azCheck(c *fiber.Ctx) error {
	var body azCheckBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	d, err := s.azDecide(c.UserContext(), body)
	if err != nil {
		return err
	}
	out := fiber.Map{"result": "deny", "source": d.Source, "disconnect": d.Disconnect,
		"rule_id": nil, "rule_index": nil, "rule": nil}
	if d.Allowed {
		out["result"] = "allow"
	}
	if d.Decided != nil {
		out["rule_id"], out["rule_index"], out["rule"] = d.Decided.ID, d.Index, azRuleView(*d.Decided)
	}
	return c.JSON(out)
}

// azDecision is the tester's answer: the verdict, and the stored rule that decided (nil
// when no rule of the list did) at its index Index.
type azDecision struct {
	authn.Verdict
	Decided *db.StoredRule
	Index   int
}

// azDecide asks the running authorization about the request body describes: the API's
// check and the dashboard's tester. A bad field is a 400 whose message starts with its
// JSON name ("peerhost: ...").
func (s *Server) azDecide(ctx context.Context, body azCheckBody) (azDecision, error) {
	client := authn.Client{ClientID: body.ClientID, Username: body.Username, Listener: body.Listener,
		Protocol: body.Protocol, IsSuperuser: body.IsSuperuser, Attrs: body.ClientAttrs}
	client.Gateway, _, _ = strings.Cut(body.Listener, ":")
	if body.PeerHost != "" {
		addr, err := netip.ParseAddr(body.PeerHost)
		if err != nil {
			return azDecision{}, badRequest(fmt.Sprintf("peerhost: %q is not an IP address", body.PeerHost))
		}
		client.Peer = netip.AddrPortFrom(addr, 0)
	}
	req := authn.Request{Topic: body.Topic, QoS: byte(body.QoS), Retain: body.Retain}
	switch body.Action {
	case "publish":
		req.Action = authn.Publish
	case "subscribe":
		req.Action, req.Retain = authn.Subscribe, false
	default:
		return azDecision{}, badRequest(fmt.Sprintf("action: %q is not publish or subscribe", body.Action))
	}
	if body.Topic == "" {
		return azDecision{}, badRequest("topic: required")
	}
	if body.QoS < 0 || body.QoS > 2 {
		return azDecision{}, badRequest(fmt.Sprintf("qos: %d is not 0, 1 or 2", body.QoS))
	}

	// The verdict names a rule by its place in the list the authorizer was built from;
	// reading the stored list before and after tells that it did not change meanwhile.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var v authn.Verdict
	var cfg db.AuthzConfig
	for range 3 {
		before, err := s.deps.Store.Authz(ctx)
		if err != nil {
			return azDecision{}, err
		}
		v = s.deps.Access.Authz.Authorize(ctx, &client, req)
		if cfg, err = s.deps.Store.Authz(ctx); err != nil {
			return azDecision{}, err
		}
		if slices.EqualFunc(before.Rules, cfg.Rules, func(a, b db.StoredRule) bool { return a.ID == b.ID }) {
			break
		}
	}
	d := azDecision{Verdict: v, Index: -1}
	if v.Source == "rules" && v.Rule >= 0 && v.Rule < len(cfg.Rules) {
		d.Decided, d.Index = &cfg.Rules[v.Rule], v.Rule
	}
	return d, nil
}
