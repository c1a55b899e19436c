package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// Authenticator backends as the form names them: none, the built-in database, an HTTP
// server (EMQX's backend names).
const (
	AuthnNone    = ""
	AuthnBuiltin = "built_in_database"
	AuthnHTTP    = "http"
)

// AuthnBackendLabel is a backend's name for people.
func AuthnBackendLabel(backend string) string {
	switch backend {
	case AuthnNone:
		return "none"
	case AuthnBuiltin:
		return "built-in database"
	case AuthnHTTP:
		return "HTTP server"
	}
	return backend
}

// Authn is the authentication page of a gateway, or of one of its listeners.
type Authn struct {
	Gateway string
	// Listener is the listener's id (<gateway>:<type>:<name>) at listener level, "" at
	// gateway level.
	Listener string
	// Base is the page's URL; its forms and fragments are below it.
	Base string
	// GatewayURL is the gateway's page; GatewayAuthnURL its authentication page.
	GatewayURL      string
	GatewayAuthnURL string
	// At listener level: AuthnOff is true when the listener has enable_authn false (nothing
	// authenticates its clients), and GatewayBackend is the gateway's authenticator's
	// backend (AuthnNone when it has none), which applies when the listener has none.
	AuthnOff       bool
	GatewayBackend string
	// Listeners are, at gateway level, the gateway's listeners and what authenticates them.
	Listeners []AuthnListener
	Form      AuthnForm
	// Users is the built-in users part; nil unless the stored authenticator's backend is
	// the built-in database.
	Users *AuthnUsers
}

// Title is the page's title.
func (m Authn) Title() string {
	if m.Listener != "" {
		return "Authentication · " + m.Listener
	}
	return "Authentication · " + m.Gateway
}

// AuthnListener is one listener in the gateway-level page's list.
type AuthnListener struct {
	ID          string
	URL         string // its authentication page
	EnableAuthn bool
	// Own is the backend of its own authenticator, AuthnNone when it uses the gateway's.
	Own string
}

// AuthnForm is the authenticator's form: what is shown, as typed (numbers stay text, so
// a refused value is shown back as it was).
type AuthnForm struct {
	Base string
	// Listener: the form is a listener's (the texts say what it replaces).
	Listener bool
	// Stored is the backend of the stored authenticator, AuthnNone when there is none.
	Stored string
	// Users is how many built-in users the stored authenticator has.
	Users int

	Backend    string
	Enable     bool
	UserIDType string
	Hash       AuthnHash
	HTTP       AuthnHTTPForm
	// TestUsername and TestClientID are the tester's fields, kept when the form is
	// redrawn (its password never is).
	TestUsername string
	TestClientID string

	Options AuthnOptions
	// Errors are messages by field: the JSON path ("password_hash_algorithm.salt_rounds",
	// "url"), "headers.N" and "body.N" for the Nth row, "headers" and "body" for the
	// tables, and "" for the form as a whole.
	Errors map[string]string
}

// AuthnHash is password_hash_algorithm; which fields apply depends on Name.
type AuthnHash struct {
	Name         string
	SaltPosition string // simple hashes
	SaltRounds   string // bcrypt
	MacFun       string // pbkdf2
	Iterations   string // pbkdf2
	DKLength     string // pbkdf2, empty for the digest size
}

// Kind is which fields the algorithm has: "simple", "bcrypt" or "pbkdf2".
func (h AuthnHash) Kind() string {
	switch h.Name {
	case "bcrypt", "pbkdf2":
		return h.Name
	}
	return "simple"
}

// AuthnHTTPForm is the HTTP backend's request.
type AuthnHTTPForm struct {
	Method         string
	URL            string
	Headers        []AuthnPair
	Body           []AuthnPair
	RequestTimeout string
	PoolSize       string
	SSL            AuthnSSL
}

// AuthnPair is a header (name, value) or a body field (key, value). A body value that is
// not a string is JSON text, marked JSON.
type AuthnPair struct {
	Key   string
	Value string
	JSON  bool
}

// AuthnSSL is the client TLS towards the HTTP server.
type AuthnSSL struct {
	Enable     bool
	Verify     string
	CACertFile string
	CertFile   string
	KeyFile    string
	SNI        string
}

// AuthnOptions are the choices of the form's selects.
type AuthnOptions struct {
	HashNames     []string
	SaltPositions []string
	MacFuns       []string
}

// Error is the message of field, or "".
func (f AuthnForm) Error(field string) string { return f.Errors[field] }

// authnFieldIDs are the element ids (after "authn-") of the form's fields, by JSON path.
var authnFieldIDs = map[string]string{
	"backend":                               "backend",
	"enable":                                "enable",
	"user_id_type":                          "user-id-type",
	"password_hash_algorithm.name":          "hash-name",
	"password_hash_algorithm.salt_position": "salt-position",
	"password_hash_algorithm.salt_rounds":   "salt-rounds",
	"password_hash_algorithm.mac_fun":       "mac-fun",
	"password_hash_algorithm.iterations":    "iterations",
	"password_hash_algorithm.dk_length":     "dk-length",
	"method":                                "method",
	"url":                                   "url",
	"headers":                               "headers",
	"body":                                  "body",
	"request_timeout":                       "request-timeout",
	"pool_size":                             "pool-size",
	"ssl.enable":                            "ssl-enable",
	"ssl.verify":                            "ssl-verify",
	"ssl.cacertfile":                        "ssl-cacertfile",
	"ssl.certfile":                          "ssl-certfile",
	"ssl.keyfile":                           "ssl-keyfile",
	"ssl.server_name_indication":            "ssl-sni",
}

// authnID is the id (and data-testid) of a field's input; authnErrID that of its error.
// Rows: "headers.N" -> authn-header-N, "body.N" -> authn-body-N.
func authnID(field string) string {
	if id, ok := authnFieldIDs[field]; ok {
		return "authn-" + id
	}
	if n, ok := strings.CutPrefix(field, "headers."); ok {
		return "authn-header-" + n
	}
	if n, ok := strings.CutPrefix(field, "body."); ok {
		return "authn-body-" + n
	}
	return "authn-" + strings.NewReplacer(".", "-", "_", "-").Replace(field)
}

func authnErrID(field string) string {
	if field == "" {
		return "authn-error-form"
	}
	return strings.Replace(authnID(field), "authn-", "authn-error-", 1)
}

// AuthnProbe is the answer of "test this authenticator".
type AuthnProbe struct {
	// Invalid is why the form's settings could not be tested; the rest is then empty.
	Invalid  string
	Status   int // 0: no answer
	Body     string
	Decision string // allow, deny, ignore
	Problem  string // why the answer was not usable, if so
	Elapsed  time.Duration
}

// ElapsedText is the request's duration for display.
func (p AuthnProbe) ElapsedText() string {
	if p.Elapsed < time.Millisecond {
		return p.Elapsed.String()
	}
	return p.Elapsed.Round(time.Millisecond).String()
}

// AuthnUsers is the built-in users part of the page.
type AuthnUsers struct {
	Base string
	// UserIDType is what the users are named by: "username" or "clientid".
	UserIDType string
	List       AuthnUserList
	Add        AuthnUserAdd
	Import     AuthnImport
}

// AuthnUserIDLabel is the label of a user id for a user_id_type.
func AuthnUserIDLabel(userIDType string) string {
	if userIDType == "clientid" {
		return "Client ID"
	}
	return "Username"
}

// AuthnUserQuery is the users table's search.
type AuthnUserQuery struct {
	Like      string
	Superuser string // "", "true", "false"
	Page      int
}

// AuthnUserList is one page of users.
type AuthnUserList struct {
	Base  string
	Query AuthnUserQuery
	Users []AuthnUser
	Total int
	Pages int
}

// URL is the list's address for page n with the same search.
func (l AuthnUserList) URL(page int) string {
	q := url.Values{}
	if l.Query.Like != "" {
		q.Set("like_user_id", l.Query.Like)
	}
	if l.Query.Superuser != "" {
		q.Set("is_superuser", l.Query.Superuser)
	}
	q.Set("page", strconv.Itoa(page))
	return l.Base + "/users?" + q.Encode()
}

// CountText says how many users match.
func (l AuthnUserList) CountText() string {
	switch {
	case l.Total == 1:
		return "1 user"
	case l.Query.Like != "" || l.Query.Superuser != "":
		return fmt.Sprintf("%d users match", l.Total)
	}
	return fmt.Sprintf("%d users", l.Total)
}

// AuthnUser is one built-in user.
type AuthnUser struct {
	ID        string
	Superuser bool
}

// authnUserURL is the address of user id below base.
func authnUserURL(base, id string) string { return base + "/users/" + url.PathEscape(id) }

// AuthnUserEdit is a user's row while it is edited.
type AuthnUserEdit struct {
	Base      string
	User      AuthnUser
	Errors    map[string]string // "password", "" for the row
	UserLabel string
}

// AuthnUserAdd is the form that adds a user.
type AuthnUserAdd struct {
	Base       string
	UserIDType string
	UserID     string
	Superuser  bool
	Errors     map[string]string // "user_id", "password", "" for the form
}

// AuthnImport is the users import form and the result of the last import.
type AuthnImport struct {
	Base   string
	Kind   string            // plain or hash
	Errors map[string]string // "filename", "type"
	Result *AuthnImportResult
}

// AuthnImportResult counts what an import did.
type AuthnImportResult struct {
	Total, Success, Override, Skipped, Failed int
}

// authnInvalid describes a field's input by its help (the ids in help, may be none) and,
// when it has an error, marks it invalid and adds the message.
func authnInvalid(f AuthnForm, field string, help ...string) templ.Attributes {
	a := templ.Attributes{}
	if f.Error(field) != "" {
		a["aria-invalid"] = "true"
		help = append([]string{authnErrID(field)}, help...)
	}
	if len(help) > 0 {
		a["aria-describedby"] = strings.Join(help, " ")
	}
	return a
}

// authnRows are the header or body rows of the form.
func authnRows(f AuthnForm, kind string) []AuthnPair {
	if kind == "headers" {
		return f.HTTP.Headers
	}
	return f.HTTP.Body
}

func authnBool(b bool) string { return strconv.FormatBool(b) }

func authnValuePlaceholder(label string, p AuthnPair) string {
	if p.JSON {
		return "JSON value"
	}
	return label
}

// authnRemoveConfirm is the question asked before the authenticator is removed.
func authnRemoveConfirm(f AuthnForm) string {
	q := "Remove this authenticator?"
	if f.Listener {
		q += " The listener's clients are then checked by the gateway's authenticator, if any."
	} else {
		q += " Clients of listeners without their own authenticator are then accepted without a password."
	}
	if f.Stored == AuthnBuiltin && f.Users > 0 {
		q += fmt.Sprintf(" Its %d built-in users are deleted with it.", f.Users)
	}
	return q
}

func authnProgressValue(im AuthnImport) string {
	if im.Result != nil {
		return "100"
	}
	return "0"
}
