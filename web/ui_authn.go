package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/authn/builtin"
	"github.com/xgate/xgate/authn/httpauth"
	"github.com/xgate/xgate/authn/password"
	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
)

// The authentication pages: a gateway's authenticator and each listener's, with the users
// of a built-in database one. Every change goes through the API's own steps (gwStoreAuthn,
// gwRemoveAuthn, gwCreateUser, gwEditUser, gwImportFile), so the dashboard refuses what the
// API refuses, for the same reasons, and the reason is shown next to its field.

func (s *Server) uiAuthnRoutes(ui uiRouter) {
	for _, base := range []string{"/gateways/:name/authentication", "/gateways/:name/listeners/:id/authentication"} {
		ui.Get(base, s.uiauPage)
		ui.Post(base, s.uiauSave)
		ui.Delete(base, s.uiauRemove)
		ui.Post(base+"/form", s.uiauRedraw)
		ui.Post(base+"/test", s.uiauTest)
		ui.Post(base+"/enable_authn", s.uiauEnableAuthn)
		ui.Get(base+"/users", s.uiauUsers)
		ui.Post(base+"/users", s.uiauAddUser)
		ui.Get(base+"/users/:uid/edit", s.uiauEditUser)
		ui.Get(base+"/users/:uid/row", s.uiauUserRow)
		ui.Put(base+"/users/:uid", s.uiauUpdateUser)
		ui.Delete(base+"/users/:uid", s.uiauDeleteUser)
		ui.Post(base+"/import_users", s.uiauImport)
	}
}

const (
	// uiauPageSize is how many users a page of the table shows.
	uiauPageSize = 20
	// uiauUsersChanged is the event (HX-Trigger) that makes the users table reload.
	uiauUsersChanged = "uiau-users-changed"
	// uiauProbeLimit bounds a test request, whatever its request_timeout.
	uiauProbeLimit = 30 * time.Second
)

// uiauOptions are the choices of the form's selects. The password package checks the
// values; pbkdf2's mac_fun names are EMQX's.
func uiauOptions() views.AuthnOptions {
	return views.AuthnOptions{
		HashNames: []string{password.Plain, password.MD5, password.SHA, password.SHA256, password.SHA512,
			password.Bcrypt, password.PBKDF2},
		SaltPositions: []string{password.SaltPrefix, password.SaltSuffix, password.SaltDisable},
		MacFuns:       []string{"md4", "md5", "ripemd160", "sha", "sha224", "sha256", "sha384", "sha512"},
	}
}

// uiauBase is the page of t: /gateways/{name}/authentication or
// /gateways/{name}/listeners/{id}/authentication.
func uiauBase(t gwAuthnTarget) string {
	b := "/gateways/" + url.PathEscape(t.gateway)
	if t.typ != "" {
		b += "/listeners/" + url.PathEscape(t.where())
	}
	return b + "/authentication"
}

// uiauState is what the store holds about the page's authenticator.
type uiauState struct {
	t   gwAuthnTarget
	gw  gateway.Config
	raw json.RawMessage // the stored authenticator; nil when there is none
	// backend is raw's backend (views.AuthnNone without one); users how many built-in
	// users it has.
	backend string
	users   int
}

func (s *Server) uiauLoad(c *fiber.Ctx) (uiauState, error) {
	t, err := s.gwTarget(c)
	if err != nil {
		return uiauState{}, err
	}
	return s.uiauLoadTarget(c.UserContext(), t)
}

func (s *Server) uiauLoadTarget(ctx context.Context, t gwAuthnTarget) (uiauState, error) {
	gw, err := s.gwStored(ctx, t.gateway)
	if err != nil {
		return uiauState{}, err
	}
	raw, err := t.get(gw)
	if err != nil {
		return uiauState{}, err
	}
	st := uiauState{t: t, gw: gw, raw: raw, backend: uiauBackendOf(raw)}
	if st.backend == views.AuthnBuiltin {
		if _, st.users, err = s.deps.Store.Users(t.ref()).List(ctx, db.UserQuery{Page: 1, Limit: 1}); err != nil {
			return uiauState{}, err
		}
	}
	return st, nil
}

// uiauBackendOf is the backend of a stored authenticator.
func uiauBackendOf(raw json.RawMessage) string {
	raw = gwNullToNil(raw)
	if raw == nil {
		return views.AuthnNone
	}
	var k struct {
		Backend string `json:"backend"`
	}
	json.Unmarshal(raw, &k)
	return k.Backend
}

// uiauModel is the whole page as stored; q is the users table's search.
func (s *Server) uiauModel(ctx context.Context, st uiauState, q views.AuthnUserQuery) (views.Authn, error) {
	t := st.t
	base := uiauBase(t)
	gwURL := "/gateways/" + url.PathEscape(t.gateway)
	m := views.Authn{Gateway: t.gateway, Base: base, GatewayURL: gwURL,
		GatewayAuthnURL: uiauBase(gwAuthnTarget{gateway: t.gateway})}
	if t.typ != "" {
		m.Listener = t.where()
		l, _ := st.gw.Listener(t.typ, t.name) // uiauLoad found it
		m.AuthnOff = !l.EnableAuthn
		m.GatewayBackend = uiauBackendOf(st.gw.Authentication)
	} else {
		for _, l := range st.gw.Listeners {
			lt := gwAuthnTarget{gateway: t.gateway, typ: l.Type, name: l.Name}
			m.Listeners = append(m.Listeners, views.AuthnListener{ID: lt.where(), URL: uiauBase(lt),
				EnableAuthn: l.EnableAuthn, Own: uiauBackendOf(l.Authentication)})
		}
	}
	m.Form = uiauFormContext(st, uiauStoredForm(st.raw))
	if st.backend == views.AuthnBuiltin {
		u, err := s.uiauUsersModel(ctx, st, q)
		if err != nil {
			return views.Authn{}, err
		}
		m.Users = &u
	}
	return m, nil
}

// uiauFormContext fills in what the form shows about the stored state.
func uiauFormContext(st uiauState, f views.AuthnForm) views.AuthnForm {
	f.Base = uiauBase(st.t)
	f.Listener = st.t.typ != ""
	f.Stored = st.backend
	f.Users = st.users
	f.Options = uiauOptions()
	return f
}

func (s *Server) uiauUsersModel(ctx context.Context, st uiauState, q views.AuthnUserQuery) (views.AuthnUsers, error) {
	base := uiauBase(st.t)
	cfg, err := builtin.ParseConfig(st.raw)
	if err != nil {
		return views.AuthnUsers{}, fmt.Errorf("stored authentication of %s: %w", st.t.where(), err)
	}
	list, err := s.uiauUserList(ctx, st.t, q)
	if err != nil {
		return views.AuthnUsers{}, err
	}
	return views.AuthnUsers{Base: base, UserIDType: cfg.UserIDType, List: list,
		Add:    views.AuthnUserAdd{Base: base, UserIDType: cfg.UserIDType},
		Import: views.AuthnImport{Base: base, Kind: builtin.KindPlain}}, nil
}

// uiauUserList is one page of users; a page past the last shows the last.
func (s *Server) uiauUserList(ctx context.Context, t gwAuthnTarget, q views.AuthnUserQuery) (views.AuthnUserList, error) {
	store := s.deps.Store.Users(t.ref())
	dq := db.UserQuery{LikeUserID: q.Like, Page: max(q.Page, 1), Limit: uiauPageSize}
	switch q.Superuser {
	case "true", "false":
		super := q.Superuser == "true"
		dq.IsSuperuser = &super
	default:
		q.Superuser = ""
	}
	users, total, err := store.List(ctx, dq)
	if err != nil {
		return views.AuthnUserList{}, err
	}
	pages := (total + uiauPageSize - 1) / uiauPageSize
	if dq.Page > pages && pages > 0 {
		dq.Page = pages
		if users, total, err = store.List(ctx, dq); err != nil {
			return views.AuthnUserList{}, err
		}
	}
	q.Page = dq.Page
	l := views.AuthnUserList{Base: uiauBase(t), Query: q, Total: total, Pages: pages}
	for _, u := range users {
		l.Users = append(l.Users, views.AuthnUser{ID: u.UserID, Superuser: u.IsSuperuser})
	}
	return l, nil
}

// uiauStoredForm is the form of a stored authenticator, with credential headers hidden
// (saving the form puts them back: gwStoreAuthn).
func uiauStoredForm(raw json.RawMessage) views.AuthnForm {
	raw = gwNullToNil(raw)
	if raw == nil {
		return views.AuthnForm{}
	}
	f := views.AuthnForm{Backend: uiauBackendOf(raw)}
	hidden := gwHideAuthn(raw)
	var err error
	switch f.Backend {
	case views.AuthnBuiltin:
		var cfg builtin.Config
		if cfg, err = builtin.ParseConfig(hidden); err == nil {
			a := cfg.PasswordHashAlgorithm
			f.Enable, f.UserIDType = cfg.Enable, cfg.UserIDType
			f.Hash = views.AuthnHash{Name: a.Name, SaltPosition: a.SaltPosition, SaltRounds: uiauItoa(a.SaltRounds),
				MacFun: a.MacFun, Iterations: uiauItoa(a.Iterations), DKLength: uiauItoa(a.DKLength)}
		}
	case views.AuthnHTTP:
		var cfg httpauth.Config
		if cfg, err = httpauth.ParseConfig(hidden); err == nil {
			f.Enable = cfg.Enable
			f.HTTP = views.AuthnHTTPForm{Method: cfg.Method, URL: cfg.URL, RequestTimeout: cfg.RequestTimeout.D().String(),
				PoolSize: strconv.Itoa(cfg.PoolSize), SSL: views.AuthnSSL{Enable: cfg.SSL.Enable, Verify: cfg.SSL.Verify,
					CACertFile: cfg.SSL.CACertFile, CertFile: cfg.SSL.CertFile, KeyFile: cfg.SSL.KeyFile,
					SNI: cfg.SSL.ServerNameIndication}}
			for _, k := range slices.Sorted(maps.Keys(cfg.Headers)) {
				f.HTTP.Headers = append(f.HTTP.Headers, views.AuthnPair{Key: k, Value: cfg.Headers[k]})
			}
			for _, k := range slices.Sorted(maps.Keys(cfg.Body)) {
				p := views.AuthnPair{Key: k}
				if str, ok := cfg.Body[k].(string); ok {
					p.Value = str
				} else {
					b, _ := json.Marshal(cfg.Body[k])
					p.Value, p.JSON = string(b), true
				}
				f.HTTP.Body = append(f.HTTP.Body, p)
			}
		}
	default:
		err = fmt.Errorf("backend %q is not one this page edits", f.Backend)
	}
	if err != nil {
		f.Errors = map[string]string{"": "The stored authenticator cannot be shown in this form (" + err.Error() +
			"); saving the form replaces it."}
	}
	return f
}

func uiauItoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// uiauValues are the request's form fields: a urlencoded body (htmx, plain forms), a
// multipart one, or the query of a GET or DELETE.
func uiauValues(c *fiber.Ctx) (url.Values, error) {
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		mf, err := c.MultipartForm()
		if err != nil {
			return nil, badRequest("form: " + err.Error())
		}
		return url.Values(mf.Value), nil
	}
	raw := string(c.Body())
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodDelete {
		raw = string(c.Request().URI().QueryString())
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("form: " + err.Error())
	}
	return v, nil
}

// uiauReadForm reads the authenticator's form as typed.
func uiauReadForm(v url.Values) views.AuthnForm {
	return views.AuthnForm{
		Backend:    v.Get("backend"),
		Enable:     v.Get("enable") == "true",
		UserIDType: v.Get("user_id_type"),
		Hash: views.AuthnHash{
			Name:         v.Get("password_hash_algorithm.name"),
			SaltPosition: v.Get("password_hash_algorithm.salt_position"),
			SaltRounds:   v.Get("password_hash_algorithm.salt_rounds"),
			MacFun:       v.Get("password_hash_algorithm.mac_fun"),
			Iterations:   v.Get("password_hash_algorithm.iterations"),
			DKLength:     v.Get("password_hash_algorithm.dk_length"),
		},
		HTTP: views.AuthnHTTPForm{
			Method: v.Get("method"), URL: v.Get("url"),
			Headers: uiauPairs(v, "headers"), Body: uiauPairs(v, "body"),
			RequestTimeout: v.Get("request_timeout"), PoolSize: v.Get("pool_size"),
			SSL: views.AuthnSSL{Enable: v.Get("ssl.enable") == "true", Verify: v.Get("ssl.verify"),
				CACertFile: v.Get("ssl.cacertfile"), CertFile: v.Get("ssl.certfile"), KeyFile: v.Get("ssl.keyfile"),
				SNI: v.Get("ssl.server_name_indication")},
		},
		TestUsername: v.Get("test_username"),
		TestClientID: v.Get("test_clientid"),
	}
}

// uiauPairs reads the header or body rows: parallel fields kind_key, kind_value, kind_json.
func uiauPairs(v url.Values, kind string) []views.AuthnPair {
	keys, values, isJSON := v[kind+"_key"], v[kind+"_value"], v[kind+"_json"]
	var out []views.AuthnPair
	for i, k := range keys {
		p := views.AuthnPair{Key: k}
		if i < len(values) {
			p.Value = values[i]
		}
		if i < len(isJSON) {
			p.JSON = isJSON[i] == "true"
		}
		out = append(out, p)
	}
	return out
}

// uiauDefaults fills what a redrawn form shows for fields that were not on it before:
// shown is the backend the form had (its hidden field "shown").
func uiauDefaults(f *views.AuthnForm, shown string) {
	if f.Backend != views.AuthnNone && shown == views.AuthnNone {
		f.Enable = true // the switch was not on the form
	}
	switch f.Backend {
	case views.AuthnBuiltin:
		d := builtin.DefaultConfig()
		f.UserIDType = uiauOr(f.UserIDType, d.UserIDType)
		f.Hash.Name = uiauOr(f.Hash.Name, d.PasswordHashAlgorithm.Name)
		switch f.Hash.Kind() {
		case password.Bcrypt:
			f.Hash.SaltRounds = uiauOr(f.Hash.SaltRounds, strconv.Itoa(password.DefaultSaltRounds))
		case password.PBKDF2:
			f.Hash.MacFun = uiauOr(f.Hash.MacFun, "sha256")
			f.Hash.Iterations = uiauOr(f.Hash.Iterations, "4096")
		default:
			f.Hash.SaltPosition = uiauOr(f.Hash.SaltPosition, password.SaltPrefix)
		}
	case views.AuthnHTTP:
		if shown == views.AuthnHTTP {
			return
		}
		d := httpauth.DefaultConfig()
		f.HTTP.Method = uiauOr(f.HTTP.Method, d.Method)
		f.HTTP.RequestTimeout = uiauOr(f.HTTP.RequestTimeout, d.RequestTimeout.D().String())
		f.HTTP.PoolSize = uiauOr(f.HTTP.PoolSize, strconv.Itoa(d.PoolSize))
		f.HTTP.SSL.Verify = uiauOr(f.HTTP.SSL.Verify, d.SSL.Verify)
		if len(f.HTTP.Headers) == 0 && len(f.HTTP.Body) == 0 {
			f.HTTP.Body = []views.AuthnPair{{Key: "username", Value: "${username}"}, {Key: "password", Value: "${password}"},
				{Key: "clientid", Value: "${clientid}"}}
		}
	}
}

func uiauOr(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// uiauRowAction applies "add:<kind>" or "remove:<kind>:<index>" to the header or body rows.
func uiauRowAction(f *views.AuthnForm, action string) {
	parts := strings.Split(action, ":")
	if len(parts) < 2 {
		return
	}
	rows := &f.HTTP.Headers
	switch parts[1] {
	case "headers":
	case "body":
		rows = &f.HTTP.Body
	default:
		return
	}
	switch {
	case parts[0] == "add" && len(parts) == 2:
		*rows = append(*rows, views.AuthnPair{})
	case parts[0] == "remove" && len(parts) == 3:
		if i, err := strconv.Atoi(parts[2]); err == nil && i >= 0 && i < len(*rows) {
			*rows = slices.Delete(*rows, i, i+1)
		}
	}
}

// uiauBuild writes the form as the authenticator's JSON (EMQX's fields; empty fields are
// left out so that their defaults apply). What cannot even be written (a number that is
// not one, a header without a name) is returned by field; everything else is for the
// API's steps to check.
func uiauBuild(f views.AuthnForm) (json.RawMessage, map[string]string) {
	errs := map[string]string{}
	m := map[string]any{"mechanism": "password_based", "backend": f.Backend, "enable": f.Enable}
	switch f.Backend {
	case views.AuthnBuiltin:
		if f.UserIDType != "" {
			m["user_id_type"] = f.UserIDType
		}
		alg := map[string]any{"name": f.Hash.Name}
		switch f.Hash.Kind() {
		case password.Bcrypt:
			uiauSetInt(alg, errs, "password_hash_algorithm.", "salt_rounds", f.Hash.SaltRounds)
		case password.PBKDF2:
			if f.Hash.MacFun != "" {
				alg["mac_fun"] = f.Hash.MacFun
			}
			uiauSetInt(alg, errs, "password_hash_algorithm.", "iterations", f.Hash.Iterations)
			uiauSetInt(alg, errs, "password_hash_algorithm.", "dk_length", f.Hash.DKLength)
		default:
			if f.Hash.SaltPosition != "" {
				alg["salt_position"] = f.Hash.SaltPosition
			}
		}
		m["password_hash_algorithm"] = alg
	case views.AuthnHTTP:
		h := f.HTTP
		m["method"], m["url"] = h.Method, strings.TrimSpace(h.URL)
		if t := strings.TrimSpace(h.RequestTimeout); t != "" {
			m["request_timeout"] = t
		}
		uiauSetInt(m, errs, "", "pool_size", h.PoolSize)
		headers := map[string]string{}
		for i, p := range h.Headers {
			name := strings.TrimSpace(p.Key)
			field := "headers." + strconv.Itoa(i)
			switch {
			case name == "" && p.Value == "":
			case name == "":
				errs[field] = "a header needs a name"
			case uiauHasFold(headers, name):
				errs[field] = "the header " + name + " is given twice"
			default:
				headers[name] = p.Value
			}
		}
		body := map[string]any{}
		for i, p := range h.Body {
			key := strings.TrimSpace(p.Key)
			field := "body." + strconv.Itoa(i)
			switch {
			case key == "" && p.Value == "":
			case key == "":
				errs[field] = "a body field needs a key"
			case body[key] != nil:
				errs[field] = "the key " + key + " is given twice"
			case p.JSON:
				if !json.Valid([]byte(p.Value)) {
					errs[field] = "not a valid JSON value"
				}
				body[key] = json.RawMessage(p.Value)
			default:
				body[key] = p.Value
			}
		}
		if len(headers) > 0 {
			m["headers"] = headers
		}
		if len(body) > 0 {
			m["body"] = body
		}
		ssl := map[string]any{"enable": h.SSL.Enable}
		for k, v := range map[string]string{"verify": h.SSL.Verify, "cacertfile": h.SSL.CACertFile, "certfile": h.SSL.CertFile,
			"keyfile": h.SSL.KeyFile, "server_name_indication": h.SSL.SNI} {
			if v = strings.TrimSpace(v); v != "" {
				ssl[k] = v
			}
		}
		m["ssl"] = ssl
	default:
		errs["backend"] = "choose none, the built-in database or an HTTP server"
	}
	if len(errs) > 0 {
		return nil, errs
	}
	raw, err := json.Marshal(m)
	if err != nil { // only JSON rows could fail, and they were checked
		return nil, map[string]string{"": err.Error()}
	}
	return raw, nil
}

func uiauSetInt(m map[string]any, errs map[string]string, prefix, key, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		errs[prefix+key] = "must be a whole number"
		return
	}
	m[key] = n
}

func uiauHasFold(m map[string]string, name string) bool {
	for k := range m {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// uiauFields are the form's fields by JSON path, where refusals are shown.
var uiauFields = map[string]bool{
	"backend": true, "enable": true, "user_id_type": true, "password_hash_algorithm.name": true,
	"password_hash_algorithm.salt_position": true, "password_hash_algorithm.salt_rounds": true,
	"password_hash_algorithm.mac_fun": true, "password_hash_algorithm.iterations": true,
	"password_hash_algorithm.dk_length": true, "method": true, "url": true, "headers": true, "body": true,
	"request_timeout": true, "pool_size": true, "ssl.enable": true, "ssl.verify": true, "ssl.cacertfile": true,
	"ssl.certfile": true, "ssl.keyfile": true, "ssl.server_name_indication": true,
}

// uiauFieldErrors places a refusal next to its field: the messages of the authenticator's
// checks start with the field's JSON path ("authentication: url: no host",
// "authentication: headers.x-token: unknown placeholder ${x}",
// "authentication.headers.x-token: ****** stands for a stored value, and there is none").
// Others are the form's.
func uiauFieldErrors(f views.AuthnForm, msg string) map[string]string {
	rest := strings.TrimPrefix(msg, "authentication: ")
	rest = strings.TrimPrefix(rest, "authentication.") // gwRevealAuthn's "authentication.headers.X: ..."
	head, reason, ok := strings.Cut(rest, ": ")
	if !ok {
		return map[string]string{"": msg}
	}
	field, _, several := strings.Cut(head, ",")
	if several { // "ssl.certfile, ssl.keyfile: give both or neither"
		reason = head + ": " + reason
	}
	switch {
	case uiauFields[field]:
		return map[string]string{field: reason}
	case strings.HasPrefix(field, "headers."):
		name := strings.TrimPrefix(field, "headers.")
		for i, p := range f.HTTP.Headers {
			if strings.EqualFold(strings.TrimSpace(p.Key), name) {
				return map[string]string{"headers." + strconv.Itoa(i): reason}
			}
		}
		return map[string]string{"headers": name + ": " + reason}
	case strings.HasPrefix(field, "body."):
		key, _, _ := strings.Cut(strings.TrimPrefix(field, "body."), ".")
		for i, p := range f.HTTP.Body {
			if strings.TrimSpace(p.Key) == key {
				return map[string]string{"body." + strconv.Itoa(i): reason}
			}
		}
		return map[string]string{"body": strings.TrimPrefix(field, "body.") + ": " + reason}
	}
	return map[string]string{"": rest}
}

// uiauRefusal returns the message of a change the API's steps refused (400, 409), or the
// error itself when it is not a refusal (the gateway is gone, the server failed).
func uiauRefusal(err error) (string, error) {
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == fiber.StatusBadRequest || ae.Status == fiber.StatusConflict) {
		return ae.Message, nil
	}
	return "", err
}

// uiauPage is GET .../authentication[?like_user_id=&is_superuser=&page=] (the users search
// works without htmx too).
func (s *Server) uiauPage(c *fiber.Ctx) error {
	st, err := s.uiauLoad(c)
	if err != nil {
		return err
	}
	return s.uiauRenderPage(c, fiber.StatusOK, st, nil)
}

// uiauRenderPage renders the whole page; patch (may be nil) changes its model first (a
// refused form, for a browser without htmx).
func (s *Server) uiauRenderPage(c *fiber.Ctx, status int, st uiauState, patch func(*views.Authn)) error {
	m, err := s.uiauModel(c.UserContext(), st, uiauUserQuery(c))
	if err != nil {
		return err
	}
	if patch != nil {
		patch(&m)
	}
	return s.uiRender(c, status, views.AuthnPage(s.uiPage(c, m.Title(), views.NavGateways), m))
}

// uiauChanged answers a change of the authenticator: htmx gets the page's content anew
// with the message in the flash area, a plain form a redirect to the page.
func (s *Server) uiauChanged(c *fiber.Ctx, t gwAuthnTarget, msg string) error {
	if !uiIsHTMX(c) {
		uiFlash(c, views.FlashSuccess, msg)
		return c.Redirect(uiauBase(t), fiber.StatusSeeOther)
	}
	st, err := s.uiauLoadTarget(c.UserContext(), t)
	if err != nil {
		return err
	}
	m, err := s.uiauModel(c.UserContext(), st, views.AuthnUserQuery{Page: 1})
	if err != nil {
		return err
	}
	c.Set("HX-Retarget", "#authn-content")
	c.Set("HX-Reswap", "outerHTML")
	return s.uiauWithFlash(c, fiber.StatusOK, views.AuthnContent(m), views.FlashSuccess, msg)
}

// uiauWithFlash renders main and, out of band, a flash message.
func (s *Server) uiauWithFlash(c *fiber.Ctx, status int, main templ.Component, kind views.FlashKind, msg string) error {
	return s.uiRender(c, status, templ.Join(main, views.AuthnFlash([]views.Flash{{Kind: kind, Text: msg}})))
}

// uiauRefusedForm answers a refused authenticator form: the form with its errors, 422.
func (s *Server) uiauRefusedForm(c *fiber.Ctx, st uiauState, f views.AuthnForm) error {
	f = uiauFormContext(st, f)
	if uiIsHTMX(c) {
		return s.uiRender(c, fiber.StatusUnprocessableEntity, views.AuthnFormView(f))
	}
	return s.uiauRenderPage(c, fiber.StatusUnprocessableEntity, st, func(m *views.Authn) { m.Form = f })
}

// uiauSave is POST .../authentication: create or replace the authenticator with the
// form's, or remove it when the backend is none.
func (s *Server) uiauSave(c *fiber.Ctx) error {
	st, err := s.uiauLoad(c)
	if err != nil {
		return err
	}
	v, err := uiauValues(c)
	if err != nil {
		return err
	}
	f := uiauReadForm(v)
	if f.Backend == views.AuthnNone {
		if st.raw == nil {
			f.Errors = map[string]string{"backend": "there is no authenticator to remove: choose a backend"}
			return s.uiauRefusedForm(c, st, f)
		}
		return s.uiauRemoveTarget(c, st.t)
	}
	raw, errs := uiauBuild(f)
	if len(errs) == 0 {
		if _, err := s.gwStoreAuthn(c.UserContext(), st.t, raw, nil); err != nil {
			msg, err := uiauRefusal(err)
			if err != nil {
				return err
			}
			errs = uiauFieldErrors(f, msg)
		}
	}
	if len(errs) > 0 {
		f.Errors = errs
		return s.uiauRefusedForm(c, st, f)
	}
	msg := "Authenticator saved."
	if st.raw == nil {
		msg = "Authenticator created: " + views.AuthnBackendLabel(f.Backend) + "."
	}
	return s.uiauChanged(c, st.t, msg)
}

// uiauRemove is DELETE .../authentication.
func (s *Server) uiauRemove(c *fiber.Ctx) error {
	t, err := s.gwTarget(c)
	if err != nil {
		return err
	}
	return s.uiauRemoveTarget(c, t)
}

func (s *Server) uiauRemoveTarget(c *fiber.Ctx, t gwAuthnTarget) error {
	if err := s.gwRemoveAuthn(c.UserContext(), t); err != nil {
		return err
	}
	return s.uiauChanged(c, t, "Authenticator removed.")
}

// uiauRedraw is POST .../authentication/form: the form drawn again from the values typed
// so far, after a change of backend or algorithm or a row added or removed. Nothing is
// stored.
func (s *Server) uiauRedraw(c *fiber.Ctx) error {
	st, err := s.uiauLoad(c)
	if err != nil {
		return err
	}
	v, err := uiauValues(c)
	if err != nil {
		return err
	}
	f := uiauReadForm(v)
	uiauRowAction(&f, v.Get("row_action"))
	uiauDefaults(&f, v.Get("shown"))
	return s.uiRender(c, fiber.StatusOK, views.AuthnFormView(uiauFormContext(st, f)))
}

// uiauTest is POST .../authentication/test: one real request with the HTTP settings as
// typed (hidden header values are the stored ones) and the tester's client fields.
func (s *Server) uiauTest(c *fiber.Ctx) error {
	st, err := s.uiauLoad(c)
	if err != nil {
		return err
	}
	v, err := uiauValues(c)
	if err != nil {
		return err
	}
	f := uiauReadForm(v)
	invalid := func(msg string) error {
		return s.uiRender(c, fiber.StatusUnprocessableEntity, views.AuthnProbeResult(views.AuthnProbe{Invalid: msg}))
	}
	if f.Backend != views.AuthnHTTP {
		return invalid("only an HTTP authenticator can be tested")
	}
	raw, errs := uiauBuild(f)
	if len(errs) > 0 {
		return invalid(uiauFirstError(errs))
	}
	if raw, err = gwRevealAuthn(raw, st.raw); err != nil {
		return invalid(err.Error())
	}
	cfg, err := httpauth.ParseConfig(raw)
	if err != nil {
		return invalid(err.Error())
	}
	a, err := httpauth.New(cfg, s.deps.Log.With("authenticator", st.t.ref().String(), "probe", true))
	if err != nil {
		return invalid(err.Error())
	}
	defer a.Close()
	client := &authn.Client{ClientID: v.Get("test_clientid"), Username: v.Get("test_username"),
		Password: []byte(v.Get("test_password")), Peer: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0),
		Protocol: st.t.gateway, Gateway: st.t.gateway}
	if st.t.typ != "" {
		client.Listener = st.t.where()
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), uiauProbeLimit)
	defer cancel()
	r := a.Probe(ctx, client)
	return s.uiRender(c, fiber.StatusOK, views.AuthnProbeResult(views.AuthnProbe{Status: r.Status, Body: r.Body,
		Decision: uiauDecision(r.Decision), Problem: r.Err, Elapsed: r.Elapsed}))
}

func uiauDecision(d authn.Decision) string {
	switch d {
	case authn.Allow:
		return "allow"
	case authn.Deny:
		return "deny"
	}
	return "ignore"
}

// uiauFirstError is one of errs, as "field: message", for a place that shows only one.
func uiauFirstError(errs map[string]string) string {
	k := slices.Sorted(maps.Keys(errs))[0]
	if k == "" {
		return errs[k]
	}
	return k + ": " + errs[k]
}

// uiauEnableAuthn is POST .../listeners/{id}/authentication/enable_authn: turns the
// listener's enable_authn on.
func (s *Server) uiauEnableAuthn(c *fiber.Ctx) error {
	t, err := s.gwTarget(c)
	if err != nil {
		return err
	}
	if t.typ == "" {
		return notFound("only a listener's authentication can be turned on")
	}
	if _, err := s.changeGateway(c.UserContext(), t.gateway, func(gw *gateway.Config) error {
		l, ok := gw.Listener(t.typ, t.name)
		if !ok {
			return gwListenerNotFound(t.where())
		}
		l.EnableAuthn = true
		*gw = gw.WithListener(l)
		return nil
	}); err != nil {
		return err
	}
	return s.uiauChanged(c, t, "Authentication is on for listener "+t.where()+".")
}

// uiauUsersTarget is the page's target and its built-in users (gwUsers: 404 without an
// authenticator, 400 when it is not a built-in database one).
func (s *Server) uiauUsersTarget(c *fiber.Ctx) (gwAuthnTarget, db.UserStore, builtin.Config, error) {
	t, err := s.gwTarget(c)
	if err != nil {
		return gwAuthnTarget{}, db.UserStore{}, builtin.Config{}, err
	}
	store, cfg, err := s.gwUsers(c)
	return t, store, cfg, err
}

// uiauUsers is GET .../users?like_user_id=&is_superuser=&page=: the users table.
func (s *Server) uiauUsers(c *fiber.Ctx) error {
	t, _, _, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	l, err := s.uiauUserList(c.UserContext(), t, uiauUserQuery(c))
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.AuthnUserListView(l))
}

// uiauUserQuery reads the users search from the query.
func uiauUserQuery(c *fiber.Ctx) views.AuthnUserQuery {
	page, _ := strconv.Atoi(c.Query("page"))
	return views.AuthnUserQuery{Like: c.Query("like_user_id"), Superuser: c.Query("is_superuser"), Page: page}
}

// uiauUserErrors places a refused user change: the store's and the hashing's messages
// start with the field (user_id, password); an existing id is the user_id's.
func uiauUserErrors(err error) (map[string]string, error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return nil, err
	}
	switch {
	case ae.Code == "ALREADY_EXISTS":
		return map[string]string{"user_id": "a user with this id exists already"}, nil
	case ae.Status != fiber.StatusBadRequest:
		return nil, err
	}
	for _, field := range []string{"user_id", "password"} {
		if reason, ok := strings.CutPrefix(ae.Message, field+": "); ok {
			return map[string]string{field: reason}, nil
		}
	}
	return map[string]string{"": ae.Message}, nil
}

// uiauAddUser is POST .../users: the add form comes back empty after a success.
func (s *Server) uiauAddUser(c *fiber.Ctx) error {
	t, store, cfg, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	v, err := uiauValues(c)
	if err != nil {
		return err
	}
	base := uiauBase(t)
	form := views.AuthnUserAdd{Base: base, UserIDType: cfg.UserIDType}
	uid, super := v.Get("user_id"), v.Get("is_superuser") == "true"
	if _, err := gwCreateUser(c.UserContext(), store, cfg, uid, v.Get("password"), super); err != nil {
		errs, err := uiauUserErrors(err)
		if err != nil {
			return err
		}
		form.UserID, form.Superuser, form.Errors = uid, super, errs
		if !uiIsHTMX(c) {
			st, err := s.uiauLoadTarget(c.UserContext(), t)
			if err != nil {
				return err
			}
			return s.uiauRenderPage(c, fiber.StatusUnprocessableEntity, st, func(m *views.Authn) {
				if m.Users != nil {
					m.Users.Add = form
				}
			})
		}
		return s.uiRender(c, fiber.StatusUnprocessableEntity, views.AuthnUserAddForm(form))
	}
	msg := "User " + uid + " added."
	if !uiIsHTMX(c) {
		uiFlash(c, views.FlashSuccess, msg)
		return c.Redirect(base, fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", uiauUsersChanged)
	return s.uiauWithFlash(c, fiber.StatusOK, views.AuthnUserAddForm(form), views.FlashSuccess, msg)
}

// uiauFindUser reads the user of the path.
func (s *Server) uiauFindUser(c *fiber.Ctx, store db.UserStore) (views.AuthnUser, error) {
	uid, err := gwParam(c, "uid")
	if err != nil {
		return views.AuthnUser{}, err
	}
	u, found, err := store.LookupUser(c.UserContext(), uid)
	if err != nil {
		return views.AuthnUser{}, err
	}
	if !found {
		return views.AuthnUser{}, gwUserNotFound(uid)
	}
	return views.AuthnUser{ID: u.UserID, Superuser: u.IsSuperuser}, nil
}

// uiauEditUser is GET .../users/{uid}/edit: the user's row as a form.
func (s *Server) uiauEditUser(c *fiber.Ctx) error {
	t, store, cfg, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	u, err := s.uiauFindUser(c, store)
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.AuthnUserEditRow(views.AuthnUserEdit{Base: uiauBase(t), User: u,
		UserLabel: views.AuthnUserIDLabel(cfg.UserIDType)}))
}

// uiauUserRow is GET .../users/{uid}/row: the user's row (to cancel an edit).
func (s *Server) uiauUserRow(c *fiber.Ctx) error {
	t, store, _, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	u, err := s.uiauFindUser(c, store)
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.AuthnUserRow(uiauBase(t), u))
}

// uiauUpdateUser is PUT .../users/{uid} with password (empty: kept) and is_superuser.
func (s *Server) uiauUpdateUser(c *fiber.Ctx) error {
	t, store, cfg, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	uid, err := gwParam(c, "uid")
	if err != nil {
		return err
	}
	v, err := uiauValues(c)
	if err != nil {
		return err
	}
	super := v.Get("is_superuser") == "true"
	var pw *string
	if p := v.Get("password"); p != "" {
		pw = &p
	}
	u, err := gwEditUser(c.UserContext(), store, cfg, uid, pw, &super)
	if err != nil {
		errs, err := uiauUserErrors(err)
		if err != nil {
			return err
		}
		return s.uiRender(c, fiber.StatusUnprocessableEntity, views.AuthnUserEditRow(views.AuthnUserEdit{
			Base: uiauBase(t), User: views.AuthnUser{ID: uid, Superuser: super}, Errors: errs,
			UserLabel: views.AuthnUserIDLabel(cfg.UserIDType)}))
	}
	msg := "User " + uid + " updated."
	if pw != nil {
		msg = "User " + uid + " updated, with a new password."
	}
	c.Set("HX-Trigger", uiauUsersChanged)
	return s.uiauWithFlash(c, fiber.StatusOK, views.AuthnUserRow(uiauBase(t),
		views.AuthnUser{ID: u.UserID, Superuser: u.IsSuperuser}), views.FlashSuccess, msg)
}

// uiauDeleteUser is DELETE .../users/{uid}: the row goes, the table reloads.
func (s *Server) uiauDeleteUser(c *fiber.Ctx) error {
	_, store, _, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	uid, err := gwParam(c, "uid")
	if err != nil {
		return err
	}
	if err := store.Delete(c.UserContext(), uid); err != nil {
		return gwUserError(err, uid)
	}
	c.Set("HX-Trigger", uiauUsersChanged)
	return s.uiauWithFlash(c, fiber.StatusOK, templ.NopComponent, views.FlashSuccess, "User "+uid+" deleted.")
}

// uiauImport is POST .../import_users, a multipart form with the file (filename) and its
// kind (type): the form comes back with the import's summary.
func (s *Server) uiauImport(c *fiber.Ctx) error {
	t, store, cfg, err := s.uiauUsersTarget(c)
	if err != nil {
		return err
	}
	kind := uiauOr(c.FormValue("type"), builtin.KindPlain)
	form := views.AuthnImport{Base: uiauBase(t), Kind: kind}
	file, _ := c.FormFile("filename") // nil without one: gwImportFile says so
	res, err := gwImportFile(c.UserContext(), store, cfg, kind, file)
	if err != nil {
		msg, err := uiauRefusal(err)
		if err != nil {
			return err
		}
		if reason, ok := strings.CutPrefix(msg, "type: "); ok {
			form.Errors = map[string]string{"type": reason}
		} else {
			form.Errors = map[string]string{"filename": strings.TrimPrefix(msg, "filename: ")}
		}
		if !uiIsHTMX(c) {
			st, err := s.uiauLoadTarget(c.UserContext(), t)
			if err != nil {
				return err
			}
			return s.uiauRenderPage(c, fiber.StatusUnprocessableEntity, st, func(m *views.Authn) {
				if m.Users != nil {
					m.Users.Import = form
				}
			})
		}
		return s.uiRender(c, fiber.StatusUnprocessableEntity, views.AuthnImportForm(form))
	}
	msg := fmt.Sprintf("Import done: %d of %d records stored (%d replaced, %d skipped, %d failed).",
		res.Success, res.Total, res.Override, res.Skipped, res.Failed)
	if !uiIsHTMX(c) {
		uiFlash(c, views.FlashSuccess, msg)
		return c.Redirect(uiauBase(t), fiber.StatusSeeOther)
	}
	form.Result = &views.AuthnImportResult{Total: res.Total, Success: res.Success, Override: res.Override,
		Skipped: res.Skipped, Failed: res.Failed}
	c.Set("HX-Trigger", uiauUsersChanged)
	return s.uiauWithFlash(c, fiber.StatusOK, views.AuthnImportForm(form), views.FlashSuccess, msg)
}
