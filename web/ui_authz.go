package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/authn/rules"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/views"
)

// The authorization page. Every change goes through the API's code (azSaveSettings,
// azInsertRule, azReplaceRule, azMoveRuleTo, azRemoveRule, azImportACL: db.CommitAuthz with
// Access.ApplyAuthz), so a rule the runtime refuses is not stored, and its message is shown
// next to the field that caused it. The tester asks azDecide, as POST /authorization/check.
//
// Forms work with htmx (the answer replaces the form's section; the rule list follows out
// of band) and without it (a redirect to the page, or the page with the refused form).

func (s *Server) uiAuthzRoutes(ui uiRouter) {
	ui.Get("/authorization", s.uiazPage)
	ui.Post("/authorization/settings", s.uiazSaveSettings)
	ui.Get("/authorization/editor", s.uiazCloseEditor)
	ui.Get("/authorization/rules/new", s.uiazNewRule)
	ui.Get("/authorization/rules/:id/edit", s.uiazEditRule)
	ui.Post("/authorization/rules", s.uiazAddRule)
	ui.Post("/authorization/rules/:id", s.uiazSaveRule)
	ui.Post("/authorization/rules/:id/move", s.uiazMoveRule)
	ui.Post("/authorization/rules/:id/delete", s.uiazDeleteRule)
	ui.Post("/authorization/check", s.uiazCheck)
	ui.Post("/authorization/import", s.uiazImport)
	ui.Get("/authorization/export", s.uiazExport)
}

// uiazMaxImport bounds an uploaded acl.conf.
const uiazMaxImport = 8 << 20

// uiazModel reads the page's state: the stored authorization and the listeners the tester
// offers. The forms are at their defaults.
func (s *Server) uiazModel(ctx context.Context) (views.Authz, error) {
	cfg, err := s.deps.Store.Authz(ctx)
	if err != nil {
		return views.Authz{}, err
	}
	snap, err := s.deps.Store.Snapshot(ctx)
	if err != nil {
		return views.Authz{}, err
	}
	m := views.Authz{
		Settings: views.AuthzSettings{NoMatch: cfg.NoMatch, DenyAction: cfg.DenyAction},
		Sources:  uiazSources(cfg),
		Rules:    uiazRules(cfg),
		Tester:   views.AuthzTester{Action: "publish"},
		Import:   views.AuthzImport{Mode: "append"},
	}
	for _, name := range s.deps.Manager.Protocols() {
		if gw, ok := snap.Gateway(name); ok {
			for _, l := range gw.Listeners {
				m.Tester.Listeners = append(m.Tester.Listeners, gwListenerID(name, l))
			}
		}
	}
	return m, nil
}

func (s *Server) uiazPageOf(c *fiber.Ctx, status int, m views.Authz) error {
	return s.uiRender(c, status, views.AuthzPage(s.uiPage(c, "Authorization", views.NavAuthorization), m))
}

// uiazPage is GET /authorization.
func (s *Server) uiazPage(c *fiber.Ctx) error {
	m, err := s.uiazModel(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiazPageOf(c, fiber.StatusOK, m)
}

// uiazDone answers a change that was made: htmx gets parts (the first replaces the section
// the form targets, the others are out of band) and the message in the flash area; a plain
// form is sent back to the page with the message.
func (s *Server) uiazDone(c *fiber.Ctx, msg string, parts ...templ.Component) error {
	if !uiIsHTMX(c) {
		uiFlash(c, views.FlashSuccess, msg)
		return c.Redirect("/authorization", fiber.StatusSeeOther)
	}
	parts = append(parts, views.AuthzFlash([]views.Flash{{Kind: views.FlashSuccess, Text: msg}}))
	return s.uiRender(c, fiber.StatusOK, templ.Join(parts...))
}

// uiazRefused answers a refused form with 422: htmx gets the form's section, a plain form
// the page m, which holds the form with its errors.
func (s *Server) uiazRefused(c *fiber.Ctx, part templ.Component, m views.Authz) error {
	if uiIsHTMX(c) {
		return s.uiRender(c, fiber.StatusUnprocessableEntity, part)
	}
	return s.uiazPageOf(c, fiber.StatusUnprocessableEntity, m)
}

// uiazFieldErrors turns a refused change into messages by form field. A 400 or 409 whose
// message starts with a field path ("who.ipaddr: ...", "topics[2]: ...") is put under the
// path's first name when the form has that field (fields maps it to the form's name; a
// missing name means the form-level message), with the rest of the message; any other
// refusal is form-level. Other errors (404, a failing server) are returned for the error
// handler.
func uiazFieldErrors(err error, fields map[string]string) (map[string]string, error) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != fiber.StatusBadRequest && ae.Status != fiber.StatusConflict {
		return nil, err
	}
	root, path, reason := uiazSplitField(ae.Message)
	if name, ok := fields[root]; ok && root != "" {
		msg := reason
		if sub := strings.TrimPrefix(strings.TrimPrefix(path, root), "."); sub != "" {
			msg = sub + ": " + reason
		}
		return map[string]string{name: msg}, nil
	}
	return map[string]string{"": ae.Message}, nil
}

// uiazSplitField splits "who.and[1].username: bad regex" into the root field "who", the
// path "who.and[1].username" and the reason. A message that does not start with a path
// has root "".
func uiazSplitField(msg string) (root, path, reason string) {
	path, reason, ok := strings.Cut(msg, ": ")
	if !ok || path == "" {
		return "", "", msg
	}
	for _, r := range path {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_.[]-", r):
		default:
			return "", "", msg
		}
	}
	root = path
	if i := strings.IndexAny(path, ".["); i >= 0 {
		root = path[:i]
	}
	return root, path, reason
}

// --- settings ---

// uiazSaveSettings is POST /authorization/settings.
func (s *Server) uiazSaveSettings(c *fiber.Ctx) error {
	ctx := c.UserContext()
	form := views.AuthzSettings{NoMatch: c.FormValue("no_match"), DenyAction: c.FormValue("deny_action")}
	_, err := s.azSaveSettings(ctx, &form.NoMatch, &form.DenyAction)
	if err != nil {
		if form.Errors, err = uiazFieldErrors(err, map[string]string{"no_match": "no_match", "deny_action": "deny_action"}); err != nil {
			return err
		}
		m, err := s.uiazModel(ctx)
		if err != nil {
			return err
		}
		m.Settings = form
		return s.uiazRefused(c, views.AuthzSettingsForm(form), m)
	}
	return s.uiazDone(c, "Authorization settings saved.", views.AuthzSettingsForm(form))
}

// --- the rule list and its editor ---

// uiazSources shows the sources in order; an HTTP source's configuration with its
// secrets masked, as the API shows it.
func uiazSources(cfg db.AuthzConfig) []views.AuthzSource {
	var out []views.AuthzSource
	for _, raw := range cfg.Sources {
		var k struct {
			Enable *bool  `json:"enable"`
			Method string `json:"method"`
			URL    string `json:"url"`
		}
		json.Unmarshal(raw, &k)
		src := views.AuthzSource{Type: azSourceType(raw), Enabled: k.Enable == nil || *k.Enable}
		switch src.Type {
		case "rules":
			src.Summary = fmt.Sprintf("The rule list below (%d %s).", len(cfg.Rules), uiazPlural(len(cfg.Rules), "rule", "rules"))
		default:
			if k.URL != "" {
				src.Summary = strings.TrimSpace(strings.ToUpper(k.Method) + " " + evMaskURL(k.URL))
			}
			var b bytes.Buffer
			if json.Indent(&b, azSourceView(raw), "", "  ") == nil {
				src.JSON = b.String()
			}
		}
		out = append(out, src)
	}
	return out
}

// uiazRules is the rule list of cfg as the page shows it.
func uiazRules(cfg db.AuthzConfig) views.AuthzRules {
	m := views.AuthzRules{}
	for _, raw := range cfg.Sources {
		if azSourceType(raw) != "rules" {
			continue
		}
		var k struct {
			Enable *bool `json:"enable"`
		}
		json.Unmarshal(raw, &k)
		m.Asked = k.Enable == nil || *k.Enable
	}
	for i, stored := range cfg.Rules {
		r := uiazRuleOf(stored, i+1)
		if i > 0 {
			r.PrevID = cfg.Rules[i-1].ID
		}
		if i+1 < len(cfg.Rules) {
			r.NextID = cfg.Rules[i+1].ID
		}
		m.List = append(m.List, r)
	}
	return m
}

// uiazRuleOf is a stored rule in words; pos is its place in the list, from 1.
func uiazRuleOf(stored db.StoredRule, pos int) views.AuthzRule {
	v := views.AuthzRule{ID: stored.ID, Position: pos}
	var r rules.Rule
	if err := r.UnmarshalJSON(stored.Rule); err != nil {
		// Cannot happen to a rule the runtime accepted; show what is there.
		v.Permission, v.Who, v.ACL = "invalid", "cannot be read: "+err.Error(), string(stored.Rule)
		return v
	}
	v.Permission, v.Who, v.Comment, v.ACL = string(r.Permission), uiazWho(r.Who), r.Comment, r.ACL()
	switch r.Action {
	case rules.ActionAll:
		v.Action = "publish and subscribe"
	default:
		v.Action = string(r.Action)
	}
	if len(r.QoS) > 0 {
		qos := make([]string, len(r.QoS))
		for i, q := range r.QoS {
			qos[i] = strconv.Itoa(q)
		}
		v.QoS = "QoS " + strings.Join(qos, ", ")
	}
	switch r.Retain {
	case rules.RetainTrue:
		v.Retain = "retained publishes"
	case rules.RetainFalse:
		v.Retain = "non-retained publishes"
	}
	for _, t := range r.Topics {
		exact, ok := strings.CutPrefix(t, "eq ")
		if ok {
			v.Topics = append(v.Topics, views.AuthzTopic{Filter: exact, Exact: true})
		} else {
			v.Topics = append(v.Topics, views.AuthzTopic{Filter: t})
		}
	}
	return v
}

// uiazWho says which clients w matches.
func uiazWho(w rules.Who) string {
	switch {
	case w.Username != nil:
		return "username " + uiazMatch(*w.Username)
	case w.ClientID != nil:
		return "client ID " + uiazMatch(*w.ClientID)
	case w.IPAddr != "":
		return "address in " + w.IPAddr
	case len(w.IPAddrs) > 0:
		return "address in " + strings.Join(w.IPAddrs, ", ")
	case w.Listener != "":
		return "listener " + w.Listener
	case w.ClientAttr != nil:
		return "attribute " + w.ClientAttr.Name + " " + uiazMatch(w.ClientAttr.Value)
	case len(w.And) > 0:
		return uiazWhoList(w.And, " and ")
	case len(w.Or) > 0:
		return uiazWhoList(w.Or, " or ")
	}
	return "every client"
}

func uiazWhoList(list []rules.Who, op string) string {
	parts := make([]string, len(list))
	for i, w := range list {
		parts[i] = "(" + uiazWho(w) + ")"
	}
	return strings.Join(parts, op)
}

func uiazMatch(m rules.StringMatch) string {
	if m.Re {
		return "matches /" + m.Value + "/"
	}
	return "= " + m.Value
}

func uiazPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// uiazNewForm is the form of a new rule, at its defaults.
func uiazNewForm() *views.AuthzRuleForm {
	return &views.AuthzRuleForm{Permission: "allow", WhoKind: views.AuthzWhoAll, Action: "publish",
		QoS: [3]bool{true, true, true}, Retain: "all", Place: "rear"}
}

// uiazFormOf is the form that edits rule r, stored with id at place number.
func uiazFormOf(id int64, number int, r rules.Rule) *views.AuthzRuleForm {
	f := &views.AuthzRuleForm{ID: id, Number: number, Permission: string(r.Permission), Action: string(r.Action),
		Topics: strings.Join(r.Topics, "\n"), Comment: r.Comment, Retain: "all"}
	switch r.Retain {
	case rules.RetainTrue:
		f.Retain = "true"
	case rules.RetainFalse:
		f.Retain = "false"
	}
	if len(r.QoS) == 0 {
		f.QoS = [3]bool{true, true, true}
	}
	for _, q := range r.QoS {
		if q >= 0 && q <= 2 {
			f.QoS[q] = true
		}
	}
	w := r.Who
	switch {
	case w.IsAll():
		f.WhoKind = views.AuthzWhoAll
	case w.Username != nil:
		f.WhoKind, f.WhoValue, f.WhoRegex = views.AuthzWhoUsername, w.Username.Value, w.Username.Re
	case w.ClientID != nil:
		f.WhoKind, f.WhoValue, f.WhoRegex = views.AuthzWhoClientID, w.ClientID.Value, w.ClientID.Re
	case w.IPAddr != "":
		f.WhoKind, f.WhoValue = views.AuthzWhoIPAddr, w.IPAddr
	case len(w.IPAddrs) > 0:
		f.WhoKind, f.WhoValue = views.AuthzWhoIPAddr, strings.Join(w.IPAddrs, ", ")
	case w.Listener != "":
		f.WhoKind, f.WhoValue = views.AuthzWhoListener, w.Listener
	default:
		f.WhoKind = views.AuthzWhoJSON
	}
	if f.WhoKind == views.AuthzWhoJSON {
		if b, err := json.MarshalIndent(w, "", "  "); err == nil {
			f.WhoJSON = string(b)
		}
	}
	return f
}

// uiazReadForm reads the posted rule form.
func uiazReadForm(c *fiber.Ctx) *views.AuthzRuleForm {
	f := &views.AuthzRuleForm{Permission: c.FormValue("permission"), WhoKind: c.FormValue("who_kind"),
		WhoValue: strings.TrimSpace(c.FormValue("who_value")), WhoRegex: c.FormValue("who_regex") == "true",
		WhoJSON: c.FormValue("who_json"), Action: c.FormValue("action"), Retain: c.FormValue("retain"),
		Topics: c.FormValue("topics"), Comment: c.FormValue("comment"), Place: c.FormValue("position")}
	for _, q := range uiazFormValues(c, "qos") {
		if n, err := strconv.Atoi(q); err == nil && n >= 0 && n <= 2 {
			f.QoS[n] = true
		}
	}
	return f
}

// uiazFormValues is every value of a repeated form field (checkboxes).
func uiazFormValues(c *fiber.Ctx, name string) []string {
	if form, err := c.MultipartForm(); err == nil {
		return form.Value[name]
	}
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

// uiazRuleFields maps a rule's JSON fields to the form's.
var uiazRuleFields = map[string]string{"permission": "permission", "who": "who", "action": "action", "qos": "qos",
	"retain": "retain", "topics": "topics", "comment": "comment", "position": "position"}

// uiazRuleFromForm builds the rule the form describes and encodes it as the API does
// (azEncodeRule). A refusal is a message by field; a topic's names its line.
func uiazRuleFromForm(f *views.AuthzRuleForm) (json.RawMessage, map[string]string) {
	errs := map[string]string{}
	r := rules.Rule{Permission: rules.Permission(f.Permission), Action: rules.Action(f.Action),
		Comment: strings.TrimSpace(strings.ReplaceAll(f.Comment, "\r\n", "\n"))}
	value := f.WhoValue
	needValue := func(what string) bool {
		if value == "" {
			errs["who"] = "Enter " + what + "."
			return false
		}
		return true
	}
	switch f.WhoKind {
	case views.AuthzWhoAll, "":
	case views.AuthzWhoUsername:
		if needValue("the username") {
			r.Who.Username = &rules.StringMatch{Value: value, Re: f.WhoRegex}
		}
	case views.AuthzWhoClientID:
		if needValue("the client ID") {
			r.Who.ClientID = &rules.StringMatch{Value: value, Re: f.WhoRegex}
		}
	case views.AuthzWhoIPAddr:
		addrs := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		switch {
		case len(addrs) == 0:
			needValue("an address or a network such as 10.0.0.0/8")
		case len(addrs) == 1:
			r.Who.IPAddr = addrs[0]
		default:
			r.Who.IPAddrs = addrs
		}
	case views.AuthzWhoListener:
		if needValue("a listener id such as stomp:tcp:default") {
			r.Who.Listener = value
		}
	case views.AuthzWhoJSON:
		text := strings.TrimSpace(f.WhoJSON)
		if text == "" {
			errs["who"] = `Enter the client condition as JSON, or "all".`
			break
		}
		if err := r.Who.UnmarshalJSON([]byte(text)); err != nil {
			errs["who"] = err.Error()
		}
	default:
		errs["who"] = fmt.Sprintf("%q is not a kind of client condition.", f.WhoKind)
	}
	var qos []int
	for q, on := range f.QoS {
		if on {
			qos = append(qos, q)
		}
	}
	switch len(qos) {
	case 0:
		errs["qos"] = "Choose at least one QoS level (all three: any)."
	case 1, 2:
		r.QoS = qos
	}
	switch f.Retain {
	case "all", "":
	case "true":
		r.Retain = rules.RetainTrue
	case "false":
		r.Retain = rules.RetainFalse
	default:
		errs["retain"] = fmt.Sprintf("%q is not all, true or false.", f.Retain)
	}
	var lines []int // the textarea's line of each topic
	for i, line := range strings.Split(f.Topics, "\n") {
		if t := strings.TrimSpace(line); t != "" {
			r.Topics = append(r.Topics, t)
			lines = append(lines, i+1)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	raw, err := azEncodeRule(r)
	if err == nil {
		return raw, nil
	}
	var ae *APIError
	errors.As(err, &ae)
	root, path, reason := uiazSplitField(ae.Message)
	switch root {
	case "topics":
		var i int
		if _, err := fmt.Sscanf(path, "topics[%d]", &i); err == nil && i >= 0 && i < len(lines) {
			reason = fmt.Sprintf("line %d: %s", lines[i], reason)
		}
		errs["topics"] = reason
	case "who":
		if sub := strings.TrimPrefix(strings.TrimPrefix(path, "who"), "."); sub != "" && f.WhoKind == views.AuthzWhoJSON {
			reason = sub + ": " + reason
		}
		errs["who"] = reason
	case "permission", "action", "qos", "retain", "comment":
		errs[root] = reason
	default:
		errs[""] = ae.Message
	}
	return nil, errs
}

// uiazEditorDone answers a saved rule: the editor closes and the list shows the change.
func (s *Server) uiazEditorDone(c *fiber.Ctx, msg string) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiazDone(c, msg, views.AuthzRuleEditor(nil), views.AuthzRuleList(uiazRules(cfg), true))
}

// uiazEditorRefused answers a refused rule form.
func (s *Server) uiazEditorRefused(c *fiber.Ctx, f *views.AuthzRuleForm) error {
	m, err := s.uiazModel(c.UserContext())
	if err != nil {
		return err
	}
	m.Editor = f
	return s.uiazRefused(c, views.AuthzRuleEditor(f), m)
}

// uiazEditor answers a request that opens the editor with f: htmx gets the editor, a
// plain request the page with it open.
func (s *Server) uiazEditor(c *fiber.Ctx, f *views.AuthzRuleForm) error {
	if uiIsHTMX(c) {
		return s.uiRender(c, fiber.StatusOK, views.AuthzRuleEditor(f))
	}
	m, err := s.uiazModel(c.UserContext())
	if err != nil {
		return err
	}
	m.Editor = f
	return s.uiazPageOf(c, fiber.StatusOK, m)
}

// uiazCloseEditor is GET /authorization/editor: the closed editor (the form's Cancel).
func (s *Server) uiazCloseEditor(c *fiber.Ctx) error {
	if !uiIsHTMX(c) {
		return c.Redirect("/authorization", fiber.StatusSeeOther)
	}
	return s.uiRender(c, fiber.StatusOK, views.AuthzRuleEditor(nil))
}

// uiazNewRule is GET /authorization/rules/new: the editor for a new rule.
func (s *Server) uiazNewRule(c *fiber.Ctx) error {
	return s.uiazEditor(c, uiazNewForm())
}

// uiazEditRule is GET /authorization/rules/{id}/edit: the editor for a stored rule.
func (s *Server) uiazEditRule(c *fiber.Ctx) error {
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
		return azRuleNotFound(id)
	}
	var r rules.Rule
	if err := r.UnmarshalJSON(cfg.Rules[i].Rule); err != nil {
		return fmt.Errorf("rule %d: stored JSON: %w", id, err)
	}
	return s.uiazEditor(c, uiazFormOf(id, i+1, r))
}

// uiazAddRule is POST /authorization/rules: adds the rule at the end or the top.
func (s *Server) uiazAddRule(c *fiber.Ctx) error {
	f := uiazReadForm(c)
	raw, errs := uiazRuleFromForm(f)
	if errs != nil {
		f.Errors = errs
		return s.uiazEditorRefused(c, f)
	}
	pos, err := azParsePosition(f.Place, true)
	if err == nil {
		_, err = s.azInsertRule(c.UserContext(), raw, pos)
	}
	if err != nil {
		if f.Errors, err = uiazFieldErrors(err, uiazRuleFields); err != nil {
			return err
		}
		return s.uiazEditorRefused(c, f)
	}
	return s.uiazEditorDone(c, "Rule added.")
}

// uiazSaveRule is POST /authorization/rules/{id}: replaces the rule, keeping its place.
func (s *Server) uiazSaveRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	f := uiazReadForm(c)
	f.ID = id
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	f.Number = azFindRule(&cfg, id) + 1
	raw, errs := uiazRuleFromForm(f)
	if errs != nil {
		f.Errors = errs
		return s.uiazEditorRefused(c, f)
	}
	if _, err := s.azReplaceRule(c.UserContext(), id, raw); err != nil {
		if f.Errors, err = uiazFieldErrors(err, uiazRuleFields); err != nil {
			return err
		}
		return s.uiazEditorRefused(c, f)
	}
	return s.uiazEditorDone(c, "Rule saved.")
}

// uiazListDone answers a change made from the list (move, delete) with the list.
func (s *Server) uiazListDone(c *fiber.Ctx, msg string) error {
	cfg, err := s.deps.Store.Authz(c.UserContext())
	if err != nil {
		return err
	}
	return s.uiazDone(c, msg, views.AuthzRuleList(uiazRules(cfg), false))
}

// uiazMoveRule is POST /authorization/rules/{id}/move with position (the API's syntax:
// front, rear, before:<id>, after:<id>).
func (s *Server) uiazMoveRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	pos, err := azParsePosition(c.FormValue("position"), false)
	if err != nil {
		return err
	}
	if err := s.azMoveRuleTo(c.UserContext(), id, pos); err != nil {
		return err
	}
	return s.uiazListDone(c, "Rule moved.")
}

// uiazDeleteRule is POST /authorization/rules/{id}/delete.
func (s *Server) uiazDeleteRule(c *fiber.Ctx) error {
	id, err := azRuleID(c)
	if err != nil {
		return err
	}
	if err := s.azRemoveRule(c.UserContext(), id); err != nil {
		return err
	}
	return s.uiazListDone(c, "Rule deleted.")
}

// --- tester ---

// uiazCheck is POST /authorization/check: the tester's question, answered by azDecide.
// The answer shows the verdict and highlights the deciding rule in the list.
func (s *Server) uiazCheck(c *fiber.Ctx) error {
	ctx := c.UserContext()
	t := views.AuthzTester{ClientID: c.FormValue("clientid"), Username: c.FormValue("username"),
		PeerHost: strings.TrimSpace(c.FormValue("peerhost")), Listener: strings.TrimSpace(c.FormValue("listener")),
		Action: c.FormValue("action"), Topic: c.FormValue("topic"), Retain: c.FormValue("retain") == "true"}
	qos, qerr := strconv.Atoi(c.FormValue("qos", "0"))
	t.QoS = qos
	var d azDecision
	err := badRequest("qos: must be 0, 1 or 2")
	if qerr == nil {
		gw, _, _ := strings.Cut(t.Listener, ":")
		d, err = s.azDecide(ctx, azCheckBody{ClientID: t.ClientID, Username: t.Username, PeerHost: t.PeerHost,
			Listener: t.Listener, Protocol: gw, Action: t.Action, Topic: t.Topic, QoS: qos, Retain: t.Retain})
	}
	m, merr := s.uiazModel(ctx)
	if merr != nil {
		return merr
	}
	t.Listeners = m.Tester.Listeners
	if err != nil {
		if t.Errors, err = uiazFieldErrors(err, map[string]string{"clientid": "clientid", "username": "username",
			"peerhost": "peerhost", "listener": "listener", "action": "action", "topic": "topic", "qos": "qos"}); err != nil {
			return err
		}
		m.Tester = t
		return s.uiazRefused(c, views.AuthzTesterForm(t), m)
	}
	t.Result = &views.AuthzVerdict{Allowed: d.Allowed, Source: d.Source, Disconnect: d.Disconnect}
	if d.Decided != nil {
		r := uiazRuleOf(*d.Decided, d.Index+1)
		t.Result.Rule = &r
		m.Rules.Highlight = r.ID
	}
	m.Tester = t
	if !uiIsHTMX(c) {
		return s.uiazPageOf(c, fiber.StatusOK, m)
	}
	return s.uiRender(c, fiber.StatusOK, templ.Join(views.AuthzTesterForm(t), views.AuthzRuleList(m.Rules, true)))
}

// --- acl.conf ---

// uiazImport is POST /authorization/import: the pasted text or the uploaded file.
func (s *Server) uiazImport(c *fiber.Ctx) error {
	ctx := c.UserContext()
	imp := views.AuthzImport{Text: c.FormValue("acl"), Mode: c.FormValue("mode", "append")}
	text := imp.Text
	if fh, err := c.FormFile("file"); err == nil && fh.Size > 0 {
		if fh.Size > uiazMaxImport {
			return s.uiazImportRefused(c, imp, map[string]string{"acl": fmt.Sprintf("The file is larger than %d MB.", uiazMaxImport>>20)})
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(f, uiazMaxImport))
		f.Close()
		if err != nil {
			return err
		}
		text = string(b)
	}
	count, total, err := s.azImportACL(ctx, text, imp.Mode)
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != fiber.StatusBadRequest {
			return err
		}
		errs := map[string]string{"": ae.Message}
		switch {
		case strings.HasPrefix(ae.Message, "acl.conf: "):
			errs = map[string]string{"acl": ae.Message}
		case strings.HasPrefix(ae.Message, "the body must be"):
			errs = map[string]string{"acl": "Paste an acl.conf or choose the file."}
		case strings.HasPrefix(ae.Message, "mode: "):
			errs = map[string]string{"mode": ae.Message}
		}
		return s.uiazImportRefused(c, imp, errs)
	}
	msg := fmt.Sprintf("Imported %d %s from acl.conf; the list has %d now.", count, uiazPlural(count, "rule", "rules"), total)
	cfg, err := s.deps.Store.Authz(ctx)
	if err != nil {
		return err
	}
	done := views.AuthzImport{Mode: imp.Mode, Done: msg}
	return s.uiazDone(c, msg, views.AuthzImportForm(done), views.AuthzRuleList(uiazRules(cfg), true))
}

func (s *Server) uiazImportRefused(c *fiber.Ctx, imp views.AuthzImport, errs map[string]string) error {
	imp.Errors = errs
	m, err := s.uiazModel(c.UserContext())
	if err != nil {
		return err
	}
	m.Import = imp
	return s.uiazRefused(c, views.AuthzImportForm(imp), m)
}

// uiazExport is GET /authorization/export: the rules as an acl.conf download.
func (s *Server) uiazExport(c *fiber.Ctx) error {
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
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.SendString(text)
}
