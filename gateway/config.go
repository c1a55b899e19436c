package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Snapshot is the whole operator configuration of every gateway: what the database holds and
// what Manager.Apply makes run. It is a value: edits return a new Snapshot.
type Snapshot struct {
	Gateways []Config `json:"gateways"`
}

// Gateway returns the named gateway's config.
func (s Snapshot) Gateway(name string) (Config, bool) {
	for _, g := range s.Gateways {
		if g.Name == name {
			return g, true
		}
	}
	return Config{}, false
}

// WithGateway returns a copy of s where the gateway named g.Name is replaced by g (or added).
func (s Snapshot) WithGateway(g Config) Snapshot {
	out := Snapshot{Gateways: replaceOrAppend(s.Gateways, g, func(old Config) bool { return old.Name == g.Name })}
	sort.Slice(out.Gateways, func(i, j int) bool { return out.Gateways[i].Name < out.Gateways[j].Name })
	return out
}

// replaceOrAppend returns a copy of list with the first element matching same replaced by v,
// or v appended when none matches.
func replaceOrAppend[T any](list []T, v T, same func(T) bool) []T {
	out := slices.Clone(list)
	if i := slices.IndexFunc(out, same); i >= 0 {
		out[i] = v
		return out
	}
	return append(out, v)
}

// Config is one gateway's configuration with EMQX's field names. Protocol-specific fields
// (STOMP's frame limits, MQTT-SN's gateway_id, ...) sit next to the common ones in JSON and
// are kept raw in Settings for the protocol to decode.
type Config struct {
	Name               string              `json:"name"`
	Enable             bool                `json:"enable" help:"Run the gateway; a disabled one keeps its configuration and closes its listeners."`
	EnableStats        bool                `json:"enable_stats" help:"Kept for EMQX compatibility: xgate always counts connections and messages."`
	IdleTimeout        Duration            `json:"idle_timeout" help:"How long a new connection may take to log in before it is closed."`
	Mountpoint         string              `json:"mountpoint" help:"Prefix of every topic of this gateway's clients; may use ${clientid}, ${username}, ${peerhost}, ${endpoint_name}."`
	ClientInfoOverride *ClientInfoOverride `json:"clientinfo_override,omitempty" help:"Templates that replace the identity a client presents, e.g. ${Packet.headers.login}; empty keeps the client's own."`
	Authentication     json.RawMessage     `json:"authentication,omitempty"`
	Listeners          []ListenerConfig    `json:"listeners"`
	// Settings holds the protocol's own fields as one JSON object.
	Settings json.RawMessage `json:"-"`
}

// ClientInfoOverride holds templates that replace a client's identity fields.
type ClientInfoOverride struct {
	Username string `json:"username,omitempty" help:"Template of the username."`
	Password string `json:"password,omitempty" help:"Template of the password."`
	ClientID string `json:"clientid,omitempty" help:"Template of the clientid."`
}

// DefaultConfig returns a gateway config with EMQX's defaults and no listeners.
func DefaultConfig(name string) Config {
	return Config{
		Name:        name,
		Enable:      true,
		EnableStats: true,
		IdleTimeout: Duration(30 * time.Second),
		Listeners:   []ListenerConfig{},
	}
}

var commonKeys = []string{"name", "enable", "enable_stats", "idle_timeout", "mountpoint",
	"clientinfo_override", "authentication", "listeners"}

// MarshalJSON writes the common fields and the protocol's fields as one flat object.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	common, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(c.Settings)) == 0 {
		return common, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(common, &m); err != nil {
		return nil, err
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(c.Settings, &extra); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	for k, v := range extra {
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON fills c from a flat object over the values c already has (so callers decode
// into DefaultConfig). Keys that are not common fields go to Settings.
func (c *Config) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	common := map[string]json.RawMessage{}
	extra := map[string]json.RawMessage{}
	for k, v := range m {
		if slices.Contains(commonKeys, k) {
			common[k] = v
		} else {
			extra[k] = v
		}
	}
	listeners, hasListeners := common["listeners"]
	delete(common, "listeners")
	b, _ := json.Marshal(common)
	type plain Config
	p := plain(*c)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	// Listeners decode over their defaults, one by one.
	if hasListeners {
		var ls []json.RawMessage
		if err := json.Unmarshal(listeners, &ls); err != nil {
			return fmt.Errorf("listeners: %w", err)
		}
		p.Listeners = make([]ListenerConfig, 0, len(ls))
		for i, lraw := range ls {
			l := DefaultListener()
			if err := DecodeStrict(lraw, &l); err != nil {
				return fmt.Errorf("listeners[%d]: %w", i, err)
			}
			p.Listeners = append(p.Listeners, l)
		}
	}
	*c = Config(p)
	if len(extra) > 0 {
		c.Settings, _ = json.Marshal(extra)
	} else if len(c.Settings) == 0 {
		c.Settings = nil
	}
	return nil
}

// DecodeSettings is the usual Protocol.ParseSettings: raw is decoded strictly over the
// protocol's defaults and the result validated.
func DecodeSettings[T interface{ Validate() error }](raw json.RawMessage, defaults T) (any, error) {
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := DecodeStrict(raw, &defaults); err != nil {
			return nil, err
		}
	}
	if err := defaults.Validate(); err != nil {
		return nil, err
	}
	return defaults, nil
}

// DecodeStrict decodes JSON into v and fails on fields v does not have.
func DecodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Listener returns the listener with the given type and name.
func (c Config) Listener(typ Transport, name string) (ListenerConfig, bool) {
	for _, l := range c.Listeners {
		if l.Type == typ && l.Name == name {
			return l, true
		}
	}
	return ListenerConfig{}, false
}

// WithListener returns a copy of c where the listener with l's type and name is replaced by l
// (or added).
func (c Config) WithListener(l ListenerConfig) Config {
	out := c
	out.Listeners = replaceOrAppend(c.Listeners, l, func(old ListenerConfig) bool { return old.Key() == l.Key() })
	return out
}

// WithoutListener returns a copy of c without the listener with the given type and name.
func (c Config) WithoutListener(typ Transport, name string) Config {
	out := c
	out.Listeners = slices.DeleteFunc(slices.Clone(c.Listeners), func(l ListenerConfig) bool {
		return l.Type == typ && l.Name == name
	})
	return out
}

// Validate checks the common fields. Protocol fields are checked by Protocol.ParseSettings.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("name: must not be empty")
	}
	if c.IdleTimeout < 0 {
		return errors.New("idle_timeout: must not be negative")
	}
	seen := map[string]bool{}
	for i, l := range c.Listeners {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("listeners[%d]: %w", i, err)
		}
		if seen[l.Key()] {
			return fmt.Errorf("listeners[%d]: listener %s is defined twice", i, l.Key())
		}
		seen[l.Key()] = true
	}
	return nil
}

// ListenerConfig is one listener of a gateway.
type ListenerConfig struct {
	Name           string          `json:"name" help:"Unique within the gateway and type; no ':', '/' or space."`
	Type           Transport       `json:"type" enum:"tcp,ssl,udp,dtls" help:"The transport; each gateway offers some of tcp, ssl, udp and dtls."`
	Bind           string          `json:"bind" help:"A port (every interface) or host:port, e.g. 61613 or 127.0.0.1:61613."`
	Enable         bool            `json:"enable" help:"Listen; a disabled listener keeps its configuration."`
	MaxConnections int             `json:"max_connections" help:"Most connections at a time; 0 means no limit."`
	MaxConnRate    int             `json:"max_conn_rate" help:"Most new connections per second; 0 means no limit."`
	AccessRules    []string        `json:"access_rules" help:"Rules like \"allow 10.0.0.0/8\" or \"deny all\", one per line; the first match decides, no match allows."`
	Mountpoint     *string         `json:"mountpoint,omitempty" help:"Overrides the gateway's mountpoint; empty uses the gateway's."`
	EnableAuthn    bool            `json:"enable_authn" help:"Authenticate clients of this listener (with its own authenticator, else the gateway's)."`
	Authentication json.RawMessage `json:"authentication,omitempty"`
	SSLOptions     *TLSConfig      `json:"ssl_options,omitempty"`
	DTLSOptions    *TLSConfig      `json:"dtls_options,omitempty"`
}

// DefaultListener returns EMQX's listener defaults.
func DefaultListener() ListenerConfig {
	return ListenerConfig{
		Name:           "default",
		Enable:         true,
		MaxConnections: 1024,
		MaxConnRate:    1000,
		AccessRules:    []string{},
		EnableAuthn:    true,
	}
}

// Key identifies a listener within its gateway: "<type>:<name>".
func (l ListenerConfig) Key() string { return string(l.Type) + ":" + l.Name }

// TLS returns the listener's TLS or DTLS options, whichever its type uses.
func (l ListenerConfig) TLS() *TLSConfig {
	switch l.Type {
	case SSL:
		return l.SSLOptions
	case DTLS:
		return l.DTLSOptions
	}
	return nil
}

// Validate checks a listener's fields.
func (l ListenerConfig) Validate() error {
	if l.Name == "" || strings.ContainsAny(l.Name, ": /") {
		return fmt.Errorf("name: %q must be non-empty and contain no ':', '/' or space", l.Name)
	}
	switch l.Type {
	case TCP, SSL, UDP, DTLS:
	default:
		return fmt.Errorf("type: %q is not one of tcp, ssl, udp, dtls", l.Type)
	}
	if _, err := l.Address(); err != nil {
		return err
	}
	if l.MaxConnections < 0 {
		return errors.New("max_connections: must not be negative (0 means no limit)")
	}
	if l.MaxConnRate < 0 {
		return errors.New("max_conn_rate: must not be negative (0 means no limit)")
	}
	if _, err := ParseAccessRules(l.AccessRules); err != nil {
		return fmt.Errorf("access_rules: %w", err)
	}
	if (l.Type == SSL || l.Type == DTLS) && l.TLS() == nil {
		return fmt.Errorf("%s_options: required for a %s listener", map[Transport]string{SSL: "ssl", DTLS: "dtls"}[l.Type], l.Type)
	}
	if t := l.TLS(); t != nil {
		if err := t.Validate(l.Type == DTLS); err != nil {
			return fmt.Errorf("%s_options.%w", l.Type, err)
		}
	}
	return nil
}

// Address returns the listener's bind address as host:port. A bare port binds every interface.
func (l ListenerConfig) Address() (string, error) {
	b := strings.TrimSpace(l.Bind)
	if b == "" {
		return "", errors.New("bind: required")
	}
	if p, err := strconv.Atoi(b); err == nil {
		if p < 0 || p > 65535 {
			return "", fmt.Errorf("bind: port %d out of range", p)
		}
		return net.JoinHostPort("0.0.0.0", b), nil
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return "", fmt.Errorf("bind: %q is not a port or host:port", l.Bind)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("bind: bad port in %q", l.Bind)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, port), nil
}

// TLSConfig is a listener's ssl_options / dtls_options (EMQX names).
type TLSConfig struct {
	CertFile         string `json:"certfile,omitempty" help:"Path of the PEM certificate (chain) the listener presents."`
	KeyFile          string `json:"keyfile,omitempty" help:"Path of the certificate's PEM private key."`
	CACertFile       string `json:"cacertfile,omitempty" help:"Path of the PEM CA certificates that client certificates are checked against (needed with verify_peer)."`
	Verify           string `json:"verify,omitempty" enum:"verify_none,verify_peer" help:"verify_peer checks client certificates against cacertfile (ssl only); verify_none asks for none."`
	FailIfNoPeerCert bool   `json:"fail_if_no_peer_cert,omitempty" help:"With verify_peer, refuse clients without a certificate."`
	// PSK lists the pre-shared keys a DTLS listener accepts (dtls_options only).
	PSK []PSKIdentity `json:"psk,omitempty" help:"Pre-shared keys a dtls listener accepts: the identity a device presents and the secret."`
}

// PSKIdentity is one DTLS pre-shared key: the identity a device presents and its secret, as
// devices are provisioned (libcoap's -u/-k, tinydtls) — the key is the secret's bytes.
type PSKIdentity struct {
	Identity string `json:"identity" help:"The identity the device presents."`
	Key      string `json:"key" help:"The secret, as the device is provisioned with it."`
}

// Validate checks the fields that do not need the files. A DTLS listener needs a
// certificate, pre-shared keys, or both; an ssl listener needs a certificate.
func (t TLSConfig) Validate(dtls bool) error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("certfile and keyfile: give both or neither")
	}
	switch {
	case !dtls && t.CertFile == "":
		return errors.New("certfile and keyfile: required")
	case !dtls && len(t.PSK) > 0:
		return errors.New("psk: only dtls listeners take pre-shared keys")
	case dtls && t.CertFile == "" && len(t.PSK) == 0:
		return errors.New("certfile/keyfile or psk: a dtls listener needs a certificate or pre-shared keys")
	case dtls && t.Verify == "verify_peer":
		return errors.New("verify: client certificates are not supported on dtls listeners yet")
	}
	seen := map[string]bool{}
	for i, p := range t.PSK {
		if p.Identity == "" || p.Key == "" || seen[p.Identity] {
			return fmt.Errorf("psk[%d]: identity and key must be non-empty and identities unique", i)
		}
		seen[p.Identity] = true
	}
	switch t.Verify {
	case "", "verify_none", "verify_peer":
	default:
		return fmt.Errorf("verify: %q is not verify_none or verify_peer", t.Verify)
	}
	if t.Verify == "verify_peer" && t.CACertFile == "" {
		return errors.New("cacertfile: required with verify_peer")
	}
	return nil
}

// Duration is a time.Duration written in JSON as EMQX does ("30s", "15m"); a number is
// read as milliseconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms int64
		if err2 := json.Unmarshal(b, &ms); err2 != nil {
			return fmt.Errorf("duration: want a string like \"30s\" or milliseconds, got %s", b)
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// AccessRule is one parsed "allow|deny <ip>|<cidr>|all" rule.
type AccessRule struct {
	Allow  bool
	Prefix netip.Prefix // invalid means "all"
}

// ParseAccessRules parses EMQX access rule strings.
func ParseAccessRules(rules []string) ([]AccessRule, error) {
	out := make([]AccessRule, 0, len(rules))
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) != 2 || (f[0] != "allow" && f[0] != "deny") {
			return nil, fmt.Errorf("%q: want \"allow|deny <ip>|<cidr>|all\"", r)
		}
		ar := AccessRule{Allow: f[0] == "allow"}
		if f[1] != "all" {
			if strings.Contains(f[1], "/") {
				p, err := netip.ParsePrefix(f[1])
				if err != nil {
					return nil, fmt.Errorf("%q: %w", r, err)
				}
				ar.Prefix = p.Masked()
			} else {
				a, err := netip.ParseAddr(f[1])
				if err != nil {
					return nil, fmt.Errorf("%q: %w", r, err)
				}
				ar.Prefix = netip.PrefixFrom(a, a.BitLen())
			}
		}
		out = append(out, ar)
	}
	return out, nil
}

// Allowed applies the first matching rule; no match allows.
func Allowed(rules []AccessRule, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, r := range rules {
		if !r.Prefix.IsValid() || r.Prefix.Contains(addr) {
			return r.Allow
		}
	}
	return true
}
