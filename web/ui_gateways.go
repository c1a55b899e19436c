package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/xgate/xgate/gateway"
	"github.com/xgate/xgate/views"
)

// The gateways pages: the list of every gateway, and one gateway's page with its state and
// enable toggle, its listeners (live table; add, edit, delete) and its settings form, which
// is generated from the configuration structs (ui_form.go) so that a new protocol gets its
// form without page code. Every change goes through changeGateway, as the API's do.

func (s *Server) uiGatewaysRoutes(ui uiRouter) {
	ui.Get("/gateways", s.uigwList)
	ui.Get("/gateways/:name", s.uigwPage)
	ui.Post("/gateways/:name/enable", s.uigwEnable)
	ui.Post("/gateways/:name/load", s.uigwLoad)
	ui.Post("/gateways/:name/settings", s.uigwSaveSettings)
	ui.Get("/gateways/:name/listeners", s.uigwListenersTable)
	ui.Get("/gateways/:name/listeners/new", s.uigwNewListener)
	ui.Post("/gateways/:name/listeners", s.uigwAddListener)
	ui.Get("/gateways/:name/listeners/:id/edit", s.uigwEditListener)
	ui.Post("/gateways/:name/listeners/:id", s.uigwUpdateListener)
	ui.Delete("/gateways/:name/listeners/:id", s.uigwDeleteListener)
}

const (
	// uigwRefresh is how often a gateway page's listeners table refreshes itself.
	uigwRefresh = 2 * time.Second
	// uigwMaxUpload bounds an uploaded certificate, key or CA file.
	uigwMaxUpload = 1 << 20
	// uigwListenersChanged is the htmx event (HX-Trigger) that makes the listeners table
	// fetch itself at once.
	uigwListenersChanged = "uigw-listeners"
)

// uigwCommonSkip are the common fields that are not in the settings form: the name, the
// enable toggle, and what has pages of its own.
var uigwCommonSkip = []string{"name", "enable", "authentication", "listeners"}

// uigwListenerSkip are the listener fields that are not in the listener form: TLS has its
// own section, authentication its own page.
var uigwListenerSkip = []string{"enable_authn", "authentication", "ssl_options", "dtls_options"}

// uigwUploads are the TLS files that can be uploaded: the form's file input is
// "tls.<name>_upload".
var uigwUploads = []string{"certfile", "keyfile", "cacertfile"}

var (
	uigwConfigType   = reflect.TypeFor[gateway.Config]()
	uigwListenerType = reflect.TypeFor[gateway.ListenerConfig]()
	uigwTLSType      = reflect.TypeFor[gateway.TLSConfig]()
)

// uigwList is GET /gateways.
func (s *Server) uigwList(c *fiber.Ctx) error {
	snap, err := s.deps.Store.Snapshot(c.UserContext())
	if err != nil {
		return err
	}
	var m views.GatewayList
	for _, name := range s.deps.Manager.Protocols() {
		cfg, loaded := snap.Gateway(name)
		if !loaded {
			m.Gateways = append(m.Gateways, views.GatewayListItem{Name: name, Status: gwUnloaded})
			continue
		}
		st, ok := s.gwStatus(name)
		item := views.GatewayListItem{Name: name, Status: gwState(cfg, st, ok), Listeners: len(cfg.Listeners),
			Connections: st.Counters.Connections}
		for _, l := range cfg.Listeners {
			if ls, _ := gwFindListenerStatus(st, gwListenerID(name, l)); ls.Running {
				item.RunningListeners++
			}
		}
		m.Gateways = append(m.Gateways, item)
	}
	return s.uiRender(c, fiber.StatusOK, views.GatewaysPage(s.uiPage(c, "Gateways", views.NavGateways), m))
}

// uigwPage is GET /gateways/{name}.
func (s *Server) uigwPage(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	m, _, err := s.uigwModel(c.UserContext(), name)
	if err != nil {
		return err
	}
	return s.uigwRenderPage(c, fiber.StatusOK, m)
}

func (s *Server) uigwRenderPage(c *fiber.Ctx, status int, m views.Gateway) error {
	return s.uiRender(c, status, views.GatewayPage(s.uiPage(c, "Gateway "+m.Name, views.NavGateways), m))
}

// uigwModel is gateway name's page as stored and running now, and its stored configuration.
func (s *Server) uigwModel(ctx context.Context, name string) (views.Gateway, gateway.Config, error) {
	snap, err := s.deps.Store.Snapshot(ctx)
	if err != nil {
		return views.Gateway{}, gateway.Config{}, err
	}
	cfg, loaded := snap.Gateway(name)
	if !loaded {
		return views.Gateway{Name: name, Status: gwUnloaded}, cfg, nil
	}
	st, ok := s.gwStatus(name)
	m := views.Gateway{Name: name, Status: gwState(cfg, st, ok), Loaded: true, Enabled: cfg.Enable,
		Connections: st.Counters.Connections, Listeners: s.uigwListeners(name, cfg),
		Settings: s.uigwSettingsForm(name, s.uigwSettingsValues(name, cfg))}
	return m, cfg, nil
}

// uigwListeners is the listeners table of a stored gateway with their live state.
func (s *Server) uigwListeners(name string, cfg gateway.Config) views.GatewayListeners {
	st, _ := s.gwStatus(name)
	out := views.GatewayListeners{Gateway: name, Refresh: uigwRefresh}
	for _, l := range cfg.Listeners {
		id := gwListenerID(name, l)
		ls, _ := gwFindListenerStatus(st, id)
		out.Rows = append(out.Rows, views.GatewayListener{
			ListenerSummary: views.ListenerSummary{ID: id, Type: string(l.Type), Name: l.Name, Bind: l.Bind,
				Enabled: l.Enable && cfg.Enable, Running: ls.Running, Error: ls.Error, Connections: ls.CurrentConnections},
			MaxConnections: l.MaxConnections,
		})
	}
	return out
}

// uigwRefusal is the message of a change the service layer refused (a bad value, a port in
// use, a gateway or listener that is gone); ok is false for a failure of the server.
func uigwRefusal(err error) (msg string, status int, ok bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status < fiber.StatusInternalServerError {
		return ae.Message, ae.Status, true
	}
	return "", 0, false
}

// uigwEnable is POST /gateways/{name}/enable (form field enable=true|false).
func (s *Server) uigwEnable(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	enable := c.FormValue("enable") == "true"
	_, changeErr := s.changeGateway(c.UserContext(), name, func(gw *gateway.Config) error {
		gw.Enable = enable
		return nil
	})
	msg, _, refused := uigwRefusal(changeErr)
	if changeErr != nil && !refused {
		return changeErr
	}
	if !uiIsHTMX(c) {
		if refused {
			uiFlash(c, views.FlashError, msg)
		} else {
			uiFlash(c, views.FlashSuccess, "Gateway "+name+" "+map[bool]string{true: "enabled", false: "disabled"}[enable]+".")
		}
		return c.Redirect(views.GatewayURL(name), fiber.StatusSeeOther)
	}
	m, _, err := s.uigwModel(c.UserContext(), name)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if refused {
		m.StateError, status = msg, fiber.StatusUnprocessableEntity
	}
	c.Set("HX-Trigger", uigwListenersChanged)
	return s.uiRender(c, status, views.GatewayState(m))
}

// uigwLoad is POST /gateways/{name}/load: stores a gateway without configuration with its
// defaults and no listeners, as the API's PUT would.
func (s *Server) uigwLoad(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	err = s.putGateway(c.UserContext(), name, func(old *gateway.Config) (gateway.Config, error) {
		if old != nil {
			return *old, nil
		}
		return gateway.DefaultConfig(name), nil
	})
	if msg, _, refused := uigwRefusal(err); refused {
		uiFlash(c, views.FlashError, msg)
	} else if err != nil {
		return err
	} else {
		uiFlash(c, views.FlashSuccess, "Gateway "+name+" loaded.")
	}
	return c.Redirect(views.GatewayURL(name), fiber.StatusSeeOther)
}

// uigwProtocolSettings is the type of gateway name's own settings and their defaults, what
// its protocol's ParseSettings(nil) returns; ok is false for a protocol without settings
// (or whose settings are not a struct).
func (s *Server) uigwProtocolSettings(name string) (t reflect.Type, defaults reflect.Value, ok bool) {
	p := s.deps.Manager.Protocol(name)
	if p == nil {
		return nil, reflect.Value{}, false
	}
	def, err := p.ParseSettings(nil)
	if err != nil || def == nil {
		return nil, reflect.Value{}, false
	}
	v := reflect.ValueOf(def)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, reflect.Value{}, false
	}
	return v.Type(), v, true
}

// uigwSettingsValues are the stored settings of gateway name as form values.
func (s *Server) uigwSettingsValues(name string, cfg gateway.Config) url.Values {
	vals := url.Values{}
	uigwValues(reflect.ValueOf(cfg), "", uigwCommonSkip, vals)
	if t, _, ok := s.uigwProtocolSettings(name); ok {
		if cur, err := s.deps.Manager.Protocol(name).ParseSettings(cfg.Settings); err == nil {
			v := reflect.ValueOf(cur)
			for v.Kind() == reflect.Pointer && !v.IsNil() {
				v = v.Elem()
			}
			if v.Type() == t {
				uigwValues(v, "", nil, vals)
			}
		}
	}
	return vals
}

// uigwSettingsForm is the settings form of gateway name showing vals.
func (s *Server) uigwSettingsForm(name string, vals url.Values) views.Form {
	b := uigwForm{vals: vals}
	f := views.Form{Prefix: "settings", Sections: []views.FormSection{{
		ID: "common", Title: "Every gateway", Help: "Fields that every gateway has.",
		Fields: b.fields(uigwConfigType, reflect.ValueOf(gateway.DefaultConfig(name)), "", uigwCommonSkip),
	}}}
	if t, def, ok := s.uigwProtocolSettings(name); ok {
		f.Sections = append(f.Sections, views.FormSection{ID: "protocol", Title: name + " settings",
			Help: "This gateway's own fields.", Fields: b.fields(t, def, "", nil)})
	}
	return f
}

// uigwSaveSettings is POST /gateways/{name}/settings: the form's values become the
// gateway's common fields and its settings JSON, which changeGateway validates
// (ParseSettings decodes strictly) and applies; a refusal comes back next to its field.
func (s *Server) uigwSaveSettings(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	vals, err := uigwFormValues(c)
	if err != nil {
		return err
	}
	d := newUIGWDecoder(vals)
	common := d.object(uigwConfigType, "", "", uigwCommonSkip)
	var settings map[string]any
	if t, _, ok := s.uigwProtocolSettings(name); ok {
		settings = d.object(t, "", "", nil)
	}
	if len(d.errs) > 0 {
		f := s.uigwSettingsForm(name, d.out)
		uigwSetFieldErrors(&f, d.errs)
		return s.uigwSettingsAnswer(c, name, fiber.StatusUnprocessableEntity, f)
	}
	stored, err := s.changeGateway(c.UserContext(), name, func(gw *gateway.Config) error {
		// The form's settings go over the stored ones, so that a field forms cannot edit
		// keeps its value; the common fields decode over the stored config.
		body := map[string]any{}
		if len(gw.Settings) > 0 {
			if err := json.Unmarshal(gw.Settings, &body); err != nil {
				return err
			}
		}
		uigwMerge(body, settings)
		for k, v := range common {
			body[k] = v
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		next := *gw
		// The form has every field of the override: it is replaced, not merged.
		next.ClientInfoOverride, next.Settings = nil, nil
		if err := json.Unmarshal(raw, &next); err != nil {
			return badRequest(gwJSONMessage(err))
		}
		next.Name = gw.Name
		next, err = gwRevealGateway(next, *gw)
		if err != nil {
			return err
		}
		*gw = next
		return nil
	})
	if msg, _, refused := uigwRefusal(err); refused {
		f := s.uigwSettingsForm(name, d.out)
		uigwAttach(&f, msg, "", nil)
		return s.uigwSettingsAnswer(c, name, fiber.StatusUnprocessableEntity, f)
	} else if err != nil {
		return err
	}
	f := s.uigwSettingsForm(name, s.uigwSettingsValues(name, stored))
	f.Notice = "Settings saved and applied."
	return s.uigwSettingsAnswer(c, name, fiber.StatusOK, f)
}

// uigwMerge puts src's values into dst; objects in both are merged, anything else (a
// table, a null) replaces.
func uigwMerge(dst, src map[string]any) {
	for k, v := range src {
		sub, isObj := v.(map[string]any)
		prev, wasObj := dst[k].(map[string]any)
		if isObj && wasObj {
			uigwMerge(prev, sub)
			continue
		}
		dst[k] = v
	}
}

// uigwSettingsAnswer answers a settings submission: the form for htmx, else the page (a
// refusal) or a redirect to it (saved).
func (s *Server) uigwSettingsAnswer(c *fiber.Ctx, name string, status int, f views.Form) error {
	if uiIsHTMX(c) {
		return s.uiRender(c, status, views.GatewaySettings(name, f))
	}
	if status < fiber.StatusBadRequest {
		uiFlash(c, views.FlashSuccess, f.Notice)
		return c.Redirect(views.GatewayURL(name), fiber.StatusSeeOther)
	}
	m, _, err := s.uigwModel(c.UserContext(), name)
	if err != nil {
		return err
	}
	m.Settings = f
	return s.uigwRenderPage(c, status, m)
}

// uigwListenersTable is GET /gateways/{name}/listeners, the table the page polls.
func (s *Server) uigwListenersTable(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	cfg, err := s.gwStored(c.UserContext(), name)
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.GatewayListenersTable(s.uigwListeners(name, cfg)))
}

// uigwListenerValues are listener l's form values, its secrets hidden.
func uigwListenerValues(l gateway.ListenerConfig) url.Values {
	vals := url.Values{}
	l = gwHideListener(l)
	uigwValues(reflect.ValueOf(l), "", uigwListenerSkip, vals)
	if t := l.TLS(); t != nil {
		uigwValues(reflect.ValueOf(*t), "tls", nil, vals)
	}
	return vals
}

// uigwListenerForm is the add (id "") or edit form of a listener of gateway name.
func (s *Server) uigwListenerForm(name, id string, vals url.Values) views.ListenerForm {
	b := uigwForm{vals: vals}
	var transports []string
	if p := s.deps.Manager.Protocol(name); p != nil {
		for _, t := range p.Transports() {
			transports = append(transports, string(t))
		}
	}
	main := b.fields(uigwListenerType, reflect.ValueOf(gateway.DefaultListener()), "", uigwListenerSkip)
	for i := range main {
		f := &main[i]
		switch f.Path {
		case "name", "type", "bind":
			f.HasDefault, f.Required, f.ReadOnly = false, true, id != "" && f.Path != "bind"
		}
		if f.Path == "type" {
			f.Options = transports
			f.Help = "The transport: " + strings.Join(transports, " or ") + "."
		}
	}
	var tlsFields []views.FormField
	for _, f := range b.fields(uigwTLSType, reflect.ValueOf(gateway.TLSConfig{Verify: "verify_none"}), "tls", nil) {
		switch f.Path {
		case "tls.verify", "tls.cacertfile", "tls.fail_if_no_peer_cert":
			f.ShowIf = "type=ssl"
		case "tls.psk":
			f.ShowIf = "type=dtls"
		}
		tlsFields = append(tlsFields, f)
		if key := strings.TrimPrefix(f.Path, "tls."); slices.Contains(uigwUploads, key) {
			up := views.FormField{Path: f.Path + "_upload", Label: "Or upload the " + uigwLowerFirst(f.Label),
				Kind: views.FieldFile, Accept: ".pem,.crt,.cer,.key", ShowIf: f.ShowIf,
				Help: "A PEM file, stored in the data directory's certs folder; it replaces the path above."}
			tlsFields = append(tlsFields, up)
		}
	}
	form := views.Form{Prefix: "lform", Sections: []views.FormSection{
		{ID: "listener", Title: "Listener", Fields: main},
		{ID: "tls", Title: "Certificate and keys", ShowIf: "type=ssl,dtls",
			Help: "For ssl and dtls listeners: the certificate and key the listener presents (paths on this machine, " +
				"or uploaded files); dtls listeners may take pre-shared keys instead or as well.",
			Fields: tlsFields},
	}}
	return views.ListenerForm{Gateway: name, ID: id, Form: form}
}

// uigwNewListenerValues are the add form's first values: the listener defaults without a
// name or address, the protocol's first transport, and the generated certificate.
func (s *Server) uigwNewListenerValues(name string) url.Values {
	l := gateway.DefaultListener()
	l.Name = ""
	if p := s.deps.Manager.Protocol(name); p != nil && len(p.Transports()) > 0 {
		l.Type = p.Transports()[0]
	}
	vals := uigwListenerValues(l)
	uigwValues(reflect.ValueOf(gateway.TLSConfig{Verify: "verify_none"}), "tls", nil, vals)
	if s.deps.DataDir != "" {
		cert, key := filepath.Join(s.deps.DataDir, "certs", "cert.pem"), filepath.Join(s.deps.DataDir, "certs", "key.pem")
		if uigwExists(cert) && uigwExists(key) {
			vals.Set("tls.certfile", cert)
			vals.Set("tls.keyfile", key)
		}
	}
	return vals
}

// uigwLowerFirst lowers a label's first letter unless it starts an initialism ("CA").
func uigwLowerFirst(s string) string {
	if len(s) < 2 || strings.ToUpper(s[1:2]) == s[1:2] {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func uigwExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// uigwNewListener is GET /gateways/{name}/listeners/new, the add form.
func (s *Server) uigwNewListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	if _, err := s.gwStored(c.UserContext(), name); err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.ListenerFormView(s.uigwListenerForm(name, "", s.uigwNewListenerValues(name))))
}

// uigwEditListener is GET /gateways/{name}/listeners/{id}/edit, the edit form.
func (s *Server) uigwEditListener(c *fiber.Ctx) error {
	name, l, err := s.uigwStoredListener(c)
	if err != nil {
		return err
	}
	return s.uiRender(c, fiber.StatusOK, views.ListenerFormView(s.uigwListenerForm(name, gwListenerID(name, l), uigwListenerValues(l))))
}

// uigwStoredListener is the gateway and the stored listener that the path names.
func (s *Server) uigwStoredListener(c *fiber.Ctx) (string, gateway.ListenerConfig, error) {
	name, err := s.gwName(c)
	if err != nil {
		return "", gateway.ListenerConfig{}, err
	}
	typ, lname, err := gwParseListenerID(c, name)
	if err != nil {
		return "", gateway.ListenerConfig{}, err
	}
	cfg, err := s.gwStored(c.UserContext(), name)
	if err != nil {
		return "", gateway.ListenerConfig{}, err
	}
	l, ok := cfg.Listener(typ, lname)
	if !ok {
		return "", gateway.ListenerConfig{}, gwListenerNotFound(name + ":" + string(typ) + ":" + lname)
	}
	return name, l, nil
}

// uigwSubmittedListener is a submitted listener form: the listener (over old, the stored
// listener being edited, or the defaults), the submission normalised, the errors by form
// path, and the files uploaded with it (to remove if the change is refused).
type uigwSubmittedListener struct {
	l     gateway.ListenerConfig
	vals  url.Values
	errs  map[string]string
	files []string
	err   string // a refusal of the whole listener (its JSON)
}

// uigwDecodeListener reads the listener form of gateway name; old is the listener being
// edited (its name and type stay), nil for a new one. Uploaded files are stored in the
// data directory's certs folder.
func (s *Server) uigwDecodeListener(c *fiber.Ctx, name string, vals url.Values, old *gateway.ListenerConfig) uigwSubmittedListener {
	d := newUIGWDecoder(vals)
	body := d.object(uigwListenerType, "", "", uigwListenerSkip)
	base := gateway.DefaultListener()
	if old != nil {
		base = *old
		body["name"], body["type"] = old.Name, string(old.Type)
		d.out.Set("name", old.Name)
		d.out.Set("type", string(old.Type))
	}
	typ, _ := body["type"].(string)
	if p := s.deps.Manager.Protocol(name); p != nil && !slices.Contains(p.Transports(), gateway.Transport(typ)) {
		d.errs["type"] = fmt.Sprintf("%q is not a transport of %s", typ, name)
	}
	lname, _ := body["name"].(string)
	out := uigwSubmittedListener{vals: d.out, errs: d.errs}
	if typ == string(gateway.SSL) || typ == string(gateway.DTLS) {
		tls := d.object(uigwTLSType, "tls", "tls", nil)
		for _, key := range uigwUploads {
			path, err := s.uigwStoreUpload(c, "tls."+key+"_upload", fmt.Sprintf("%s-%s-%s-%s", name, typ, lname, key))
			if err != nil {
				d.errs["tls."+key+"_upload"] = err.Error()
			} else if path != "" {
				out.files = append(out.files, path)
				tls[key] = path
				d.out.Set("tls."+key, path)
			}
		}
		if typ == string(gateway.SSL) {
			delete(tls, "psk")
			body["ssl_options"] = tls
		} else {
			body["dtls_options"] = tls
		}
	}
	if len(d.errs) > 0 {
		return out
	}
	// The form has every field of these: they are replaced, not merged.
	base.SSLOptions, base.DTLSOptions, base.Mountpoint = nil, nil, nil
	raw, err := json.Marshal(body)
	if err == nil {
		err = gateway.DecodeStrict(raw, &base)
	}
	if err != nil {
		out.err = gwJSONMessage(err)
	}
	out.l = base
	return out
}

// uigwStoreUpload stores the file uploaded in form field field, if any, as a new file in
// the data directory's certs folder and returns its path. A new name each time: the
// listener's current file stays as it is until the change is applied.
func (s *Server) uigwStoreUpload(c *fiber.Ctx, field, stem string) (string, error) {
	fh, err := c.FormFile(field)
	if errors.Is(err, fasthttp.ErrMissingFile) || errors.Is(err, fasthttp.ErrNoMultipartForm) || (err == nil && fh.Size == 0) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("the upload could not be read: %v", err)
	}
	if fh.Size > uigwMaxUpload {
		return "", fmt.Errorf("%s is larger than 1 MiB", fh.Filename)
	}
	if s.deps.DataDir == "" {
		return "", errors.New("this server has no data directory to store uploads in; give a path instead")
	}
	f, err := fh.Open()
	if err != nil {
		return "", fmt.Errorf("the upload could not be read: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, uigwMaxUpload+1))
	if err != nil {
		return "", fmt.Errorf("the upload could not be read: %v", err)
	}
	dir := filepath.Join(s.deps.DataDir, "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("the upload could not be stored: %v", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, stem)
	path := filepath.Join(dir, safe+"-"+hex.EncodeToString(rnd[:])+".pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("the upload could not be stored: %v", err)
	}
	return path, nil
}

// uigwAddListener is POST /gateways/{name}/listeners: the listener is added and started at
// once; a port in use or a bad certificate is shown next to its field and nothing is stored.
func (s *Server) uigwAddListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	cfg, err := s.gwStored(c.UserContext(), name)
	if err != nil {
		return err
	}
	vals, err := uigwFormValues(c)
	if err != nil {
		return err
	}
	sub := s.uigwDecodeListener(c, name, vals, nil)
	if len(sub.errs) == 0 && sub.err == "" {
		if _, exists := cfg.Listener(sub.l.Type, sub.l.Name); exists {
			sub.errs["name"] = fmt.Sprintf("%s already has a %s listener named %q", name, sub.l.Type, sub.l.Name)
		}
	}
	return s.uigwApplyListener(c, name, "", sub, func() (string, error) {
		if err := gwRevealListener(&sub.l, nil); err != nil {
			return "", err
		}
		if _, err := s.changeGateway(c.UserContext(), name, gwInsertListener(name, sub.l)); err != nil {
			return "", err
		}
		return "Listener " + gwListenerID(name, sub.l) + " added.", nil
	})
}

// uigwUpdateListener is POST /gateways/{name}/listeners/{id}: the form replaces the
// listener's configuration (its authentication stays). A listener that keeps its address
// keeps its connections; a moved one binds anew before the old socket closes.
func (s *Server) uigwUpdateListener(c *fiber.Ctx) error {
	name, old, err := s.uigwStoredListener(c)
	if err != nil {
		return err
	}
	vals, err := uigwFormValues(c)
	if err != nil {
		return err
	}
	sub := s.uigwDecodeListener(c, name, vals, &old)
	id := gwListenerID(name, old)
	return s.uigwApplyListener(c, name, id, sub, func() (string, error) {
		if _, err := s.changeGateway(c.UserContext(), name, gwReplaceListener(name, sub.l, true)); err != nil {
			return "", err
		}
		return "Listener " + id + " saved.", nil
	})
}

// uigwApplyListener makes the change of a submitted listener form (when it has no errors)
// and answers: the listeners section with the notice, or the form again with the refusal
// next to its field (a socket that cannot be bound next to bind) and status 422.
func (s *Server) uigwApplyListener(c *fiber.Ctx, name, id string, sub uigwSubmittedListener, change func() (string, error)) error {
	var notice, refusal string
	status := fiber.StatusOK
	if len(sub.errs) == 0 && sub.err == "" {
		var err error
		notice, err = change()
		if err != nil {
			msg, st, ok := uigwRefusal(err)
			if !ok {
				uigwRemove(sub.files)
				return err
			}
			refusal, status = msg, st
		}
	}
	if notice == "" {
		uigwRemove(sub.files)
		lf := s.uigwListenerForm(name, id, sub.vals)
		uigwSetFieldErrors(&lf.Form, sub.errs)
		if sub.err != "" {
			uigwAttach(&lf.Form, sub.err, "", uigwListenerPath)
		}
		if refusal != "" {
			fallback := ""
			if status == fiber.StatusConflict { // a socket that cannot be bound
				fallback = "bind"
			}
			uigwAttach(&lf.Form, refusal, fallback, uigwListenerPath)
		}
		return s.uigwListenersAnswer(c, name, fiber.StatusUnprocessableEntity, "", &lf)
	}
	return s.uigwListenersAnswer(c, name, fiber.StatusOK, notice, nil)
}

// uigwListenerPath maps a refusal's path onto the listener form's: both TLS options are
// the form's "tls" section.
func uigwListenerPath(path string) string {
	for _, p := range []string{"ssl_options", "dtls_options"} {
		if path == p {
			return "tls"
		}
		if rest, ok := strings.CutPrefix(path, p+"."); ok {
			return "tls." + rest
		}
	}
	return path
}

func uigwRemove(files []string) {
	for _, f := range files {
		os.Remove(f)
	}
}

// uigwDeleteListener is DELETE /gateways/{name}/listeners/{id}.
func (s *Server) uigwDeleteListener(c *fiber.Ctx) error {
	name, err := s.gwName(c)
	if err != nil {
		return err
	}
	typ, lname, err := gwParseListenerID(c, name)
	if err != nil {
		return err
	}
	if _, err := s.changeGateway(c.UserContext(), name, gwRemoveListener(name, typ, lname)); err != nil {
		return err
	}
	return s.uigwListenersAnswer(c, name, fiber.StatusOK, "Listener "+name+":"+string(typ)+":"+lname+" deleted.", nil)
}

// uigwListenersAnswer answers a listener change: for htmx the listeners section (with the
// form when it comes back refused), else the page or, after a change, a redirect to it.
func (s *Server) uigwListenersAnswer(c *fiber.Ctx, name string, status int, notice string, form *views.ListenerForm) error {
	if !uiIsHTMX(c) && status < fiber.StatusBadRequest {
		uiFlash(c, views.FlashSuccess, notice)
		return c.Redirect(views.GatewayURL(name), fiber.StatusSeeOther)
	}
	m, cfg, err := s.uigwModel(c.UserContext(), name)
	if err != nil {
		return err
	}
	if !m.Loaded {
		return notFound("Gateway not loaded: " + name)
	}
	l := s.uigwListeners(name, cfg)
	l.Notice, l.Form = notice, form
	if uiIsHTMX(c) {
		return s.uiRender(c, status, views.GatewayListenersSection(l))
	}
	m.Listeners = l
	return s.uigwRenderPage(c, status, m)
}
