package web

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// oaDoc is the part of the OpenAPI document the tests read.
type oaDoc struct {
	OpenAPI  string                 `json:"openapi"`
	Servers  []struct{ URL string } `json:"servers"`
	Security []map[string][]string  `json:"security"`
	Tags     []struct {
		Name string `json:"name"`
	} `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
		} `json:"securitySchemes"`
		Parameters map[string]oaParameter `json:"parameters"`
		Schemas    map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type oaParameter struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type oaOperation struct {
	Tags        []string                   `json:"tags"`
	Summary     string                     `json:"summary"`
	OperationID string                     `json:"operationId"`
	Parameters  []oaParameter              `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
	// Security is nil when the operation inherits the document's.
	Security *[]map[string][]string `json:"security"`
}

// oaMethods are the operation keys of a path item.
var oaMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// oaOp is one documented operation.
type oaOp struct {
	method, path string // "GET", "/gateways/{name}"
	op           oaOperation
	pathParams   []oaParameter // the path item's, then the operation's
}

func (o oaOp) String() string { return o.method + " " + o.path }

// security is the operation's effective security requirements.
func (o oaOp) security(doc *oaDoc) []map[string][]string {
	if o.op.Security != nil {
		return *o.op.Security
	}
	return doc.Security
}

// loadOpenAPI parses the embedded document and lists its operations.
func loadOpenAPI(t *testing.T) (*oaDoc, []oaOp) {
	t.Helper()
	var doc oaDoc
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var ops []oaOp
	for path, item := range doc.Paths {
		var shared []oaParameter
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Fatalf("openapi.json: paths[%s].parameters: %v", path, err)
			}
		}
		for _, m := range oaMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			o := oaOp{method: strings.ToUpper(m), path: path}
			if err := json.Unmarshal(raw, &o.op); err != nil {
				t.Fatalf("openapi.json: %s: %v", o, err)
			}
			o.pathParams = append(slices.Clone(shared), o.op.Parameters...)
			ops = append(ops, o)
		}
	}
	slices.SortFunc(ops, func(a, b oaOp) int { return strings.Compare(a.String(), b.String()) })
	return &doc, ops
}

// TestOpenAPIDocument checks the document on its own: it parses, every $ref resolves, every
// operation is described and tagged, and path parameters match the path templates.
func TestOpenAPIDocument(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi: %q, want 3.0.x", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v5" {
		t.Errorf("servers: %+v, want one, /api/v5 (the paths are relative to it)", doc.Servers)
	}
	for name, want := range map[string]string{"bearerAuth": "bearer", "basicAuth": "basic"} {
		if s := doc.Components.SecuritySchemes[name]; s.Type != "http" || s.Scheme != want {
			t.Errorf("components.securitySchemes.%s: %+v, want http %s", name, s, want)
		}
	}
	var global []string
	for _, req := range doc.Security {
		for name := range req {
			global = append(global, name)
		}
	}
	slices.Sort(global)
	if !slices.Equal(global, []string{"basicAuth", "bearerAuth"}) {
		t.Errorf("security: %v, want bearerAuth and basicAuth", doc.Security)
	}

	var root any
	if err := json.Unmarshal(openapiDoc, &root); err != nil {
		t.Fatal(err)
	}
	for _, bad := range oaBadRefs(root, root, "#") {
		t.Errorf("unresolved reference: %s", bad)
	}

	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	ids := map[string]string{}
	template := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range ops {
		if o.op.Summary == "" {
			t.Errorf("%s: no summary", o)
		}
		if len(o.op.Tags) == 0 {
			t.Errorf("%s: no tags", o)
		}
		for _, tag := range o.op.Tags {
			if !tags[tag] {
				t.Errorf("%s: tag %q is not in the document's tags", o, tag)
			}
		}
		if o.op.OperationID == "" {
			t.Errorf("%s: no operationId", o)
		} else if other, dup := ids[o.op.OperationID]; dup {
			t.Errorf("%s: operationId %q is also %s's", o, o.op.OperationID, other)
		}
		ids[o.op.OperationID] = o.String()
		if len(o.op.Responses) == 0 {
			t.Errorf("%s: no responses", o)
		}

		declared := map[string]int{}
		for i, p := range o.pathParams {
			if p.Ref != "" {
				name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
				resolved, found := doc.Components.Parameters[name]
				if !ok || !found {
					t.Errorf("%s: parameters[%d]: %s is not a component parameter", o, i, p.Ref)
					continue
				}
				p = resolved
			}
			if p.In != "path" {
				continue
			}
			declared[p.Name]++
			if !p.Required {
				t.Errorf("%s: path parameter %s must be required", o, p.Name)
			}
		}
		var inPath []string
		for _, m := range template.FindAllStringSubmatch(o.path, -1) {
			inPath = append(inPath, m[1])
			if declared[m[1]] != 1 {
				t.Errorf("%s: path parameter {%s} is declared %d times, want once", o, m[1], declared[m[1]])
			}
		}
		for name := range declared {
			if !slices.Contains(inPath, name) {
				t.Errorf("%s: declares path parameter %s, which the path does not have", o, name)
			}
		}
	}
}

// oaBadRefs returns the "$ref"s under v that do not point at a member of root, each with
// where it is.
func oaBadRefs(root, v any, at string) []string {
	var bad []string
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"]; ok {
			s, _ := ref.(string)
			if !oaResolves(root, s) {
				bad = append(bad, fmt.Sprintf("%s: %q", at, s))
			}
		}
		for k, child := range v {
			k = strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			bad = append(bad, oaBadRefs(root, child, at+"/"+k)...)
		}
	case []any:
		for i, child := range v {
			bad = append(bad, oaBadRefs(root, child, fmt.Sprintf("%s/%d", at, i))...)
		}
	}
	return bad
}

// oaResolves reports whether ref, a local JSON pointer ("#/components/schemas/Error"),
// names a member of root.
func oaResolves(root any, ref string) bool {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := root
	for _, token := range strings.Split(pointer, "/") {
		token = strings.NewReplacer("~1", "/", "~0", "~").Replace(token)
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[token]; !ok {
			return false
		}
	}
	return true
}

// oaWildcards names fiber's wildcard parameters the way the document does.
var oaWildcards = map[string]string{
	"/api/v5/gateways/:name/clients/:clientid/subscriptions/*": "topic",
}

var oaFiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)(<[^>]*>)?\??`)

// oaTemplate turns a fiber route path into the document's form: "/api/v5/gateways/:name" is
// "/gateways/{name}". A wildcard not in oaWildcards becomes "{*}", which no documented path
// has.
func oaTemplate(path string) string {
	if name, ok := oaWildcards[path]; ok {
		path = strings.Replace(path, "*", "{"+name+"}", 1)
	}
	path = strings.ReplaceAll(path, "*", "{*}")
	path = oaFiberParam.ReplaceAllString(path, "{$1}")
	return strings.TrimPrefix(path, "/api/v5")
}

// TestOpenAPIRoutes checks the document against the app: it documents every route New
// registers under /api/v5 and nothing else, its security matches what requireAuth does,
// and it is served at /api/v5/openapi.json.
func TestOpenAPIRoutes(t *testing.T) {
	a := newTestAPI(t)
	doc, ops := loadOpenAPI(t)

	t.Run("every route documented", func(t *testing.T) {
		routes := map[string]bool{}
		for _, r := range a.srv.App().GetRoutes(true) { // true: without Use middleware (auth, 404)
			// fiber adds a HEAD route for every GET.
			if r.Method == "HEAD" || !strings.HasPrefix(r.Path, "/api/v5/") {
				continue
			}
			routes[r.Method+" "+oaTemplate(r.Path)] = true
		}
		documented := map[string]bool{}
		for _, o := range ops {
			documented[o.String()] = true
		}
		var undocumented, unrouted []string
		for r := range routes {
			if !documented[r] {
				undocumented = append(undocumented, r)
			}
		}
		for o := range documented {
			if !routes[o] {
				unrouted = append(unrouted, o)
			}
		}
		slices.Sort(undocumented)
		slices.Sort(unrouted)
		if len(undocumented)+len(unrouted) > 0 {
			t.Errorf("openapi.json and the routes differ.\nroutes missing from openapi.json (%d):\n\t%s\n"+
				"operations in openapi.json without a route (%d):\n\t%s",
				len(undocumented), strings.Join(undocumented, "\n\t"), len(unrouted), strings.Join(unrouted, "\n\t"))
		}
		if len(routes) == 0 {
			t.Fatal("the app has no routes under /api/v5")
		}
	})

	t.Run("security matches requireAuth", func(t *testing.T) {
		params := regexp.MustCompile(`\{[^}]+\}`)
		for _, o := range ops {
			path := "/api/v5" + params.ReplaceAllString(o.path, "x")
			sec := o.security(doc)
			// Without credentials only the public operations get past requireAuth; a
			// protected one answers 401 before its handler runs.
			status, body := a.doWith(o.method, path, "", "")
			if public := len(sec) == 0; public == (status == 401) {
				t.Errorf("%s without credentials: %d %s; the document says public=%v", o, status, body, public)
			}
			if len(sec) == 0 {
				continue
			}
			apiKey := slices.ContainsFunc(sec, func(req map[string][]string) bool { _, ok := req["basicAuth"]; return ok })
			if bearerOnly := admBearerOnly(path); apiKey == bearerOnly {
				t.Errorf("%s: the document allows basicAuth=%v, but requireAuth refuses API keys there=%v", o, apiKey, bearerOnly)
			}
		}
	})

	t.Run("served", func(t *testing.T) {
		status, body := a.doWith("GET", "/api/v5/openapi.json", "", "")
		if status != 200 || string(body) != string(openapiDoc) {
			t.Fatalf("GET /api/v5/openapi.json: %d, %d bytes; want 200 and the embedded document", status, len(body))
		}
		resp, err := a.srv.App().Test(httptest.NewRequest("GET", "/api/v5/openapi.json", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type: %q, want application/json", ct)
		}
		if !json.Valid(body) {
			t.Error("the answer is not JSON")
		}
	})
}

// TestOpenAPISchemaFields checks that the schemas mirroring Go structs have the structs' JSON
// field names, so that a renamed or added field fails here until the document follows.
func TestOpenAPISchemaFields(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	listenerOut := []string{"id", "running", "current_connections", "status"}
	for _, tc := range []struct {
		name   string // the schema
		goType any
		extra  []string // properties the struct does not have
		omit   []string // struct fields the schema leaves out
	}{
		// Request bodies.
		{name: "LoginRequest", goType: loginRequest{}},
		{name: "CreateAdminUserRequest", goType: admCreateUserRequest{}},
		{name: "UpdateAdminUserRequest", goType: admUpdateUserRequest{}},
		{name: "ChangePasswordRequest", goType: admChangePasswordRequest{}},
		{name: "CreateAPIKeyRequest", goType: admCreateKeyRequest{}},
		{name: "UpdateAPIKeyRequest", goType: admKeyFields{}},
		{name: "SubscribeRequest", goType: clSubscribeBody{}},
		{name: "SubProps", goType: clSubProps{}},
		{name: "DeviceRequest", goType: clRequestBody{}},
		{name: "AuthzSettingsRequest", goType: azSettings{}},
		{name: "MoveRequest", goType: azMoveBody{}},
		{name: "AuthzCheckRequest", goType: azCheckBody{}},
		{name: "WebhookRequest", goType: evWebhookBody{}},
		{name: "ListenerConfig", goType: gateway.ListenerConfig{}, extra: gwListenerOutputOnly},
		{name: "GatewayConfig", goType: gateway.Config{}, omit: []string{"name"}},
		{name: "TLSOptions", goType: gateway.TLSConfig{}},
		{name: "PSKIdentity", goType: gateway.PSKIdentity{}},
		{name: "ClientInfoOverride", goType: gateway.ClientInfoOverride{}},
		// Answers.
		{name: "AdminUser", goType: admUserView{}},
		{name: "APIKey", goType: admKeyView{}},
		{name: "GatewaySummary", goType: gwSummary{}},
		{name: "GatewayListenerSummary", goType: gwListenerSummary{}},
		{name: "Gateway", goType: gateway.Config{}, extra: []string{"status", "started_at"}},
		{name: "Listener", goType: gateway.ListenerConfig{}, extra: append(listenerOut, "error")},
		{name: "ListenerStatus", goType: gwListenerStatus{}},
		{name: "GatewayStats", goType: clGatewayStats{}},
		{name: "ListenerStats", goType: clListenerStats{}},
		{name: "AuthnUser", goType: gwUserView{}},
		{name: "ImportResult", goType: db.ImportResult{}},
		{name: "Subscription", goType: clSubscription{}},
		{name: "Webhook", goType: evWebhookView{}},
		{name: "WebhookMetrics", goType: evWebhookMetrics{}},
		{name: "Event", goType: evJSON{}},
		{name: "Error", goType: APIError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema, ok := doc.Components.Schemas[tc.name]
			if !ok {
				t.Fatalf("no schema %s", tc.name)
			}
			want := slices.DeleteFunc(oaJSONFields(reflect.TypeOf(tc.goType)), func(f string) bool { return slices.Contains(tc.omit, f) })
			want = append(want, tc.extra...)
			slices.Sort(want)
			want = slices.Compact(want)
			var got []string
			for p := range schema.Properties {
				got = append(got, p)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("properties %v, want %v (%T's JSON fields)", got, want, tc.goType)
			}
		})
	}
}

// oaJSONFields returns the JSON member names of struct type typ, embedded structs' included.
func oaJSONFields(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			names = append(names, oaJSONFields(f.Type)...)
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
