package httpauth

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xgate/xgate/authn"
)

// attrPrefix introduces a client attribute placeholder, ${client_attrs.NAME}.
const attrPrefix = "client_attrs."

// clientVars are the placeholders both authentication and authorization may use
// (besides ${client_attrs.NAME}).
func clientVars() []string {
	return []string{
		"clientid", "username", "peerhost", "peerport", "protocol", "listener",
		"cert_common_name", "cert_subject",
	}
}

// authnVars are the placeholders allowed in an authenticator's templates.
func authnVars() []string { return append(clientVars(), "password") }

// authzVars are the placeholders allowed in an authorization source's templates. As in
// EMQX, ${password} is not one of them: the authorization server never sees passwords.
func authzVars() []string { return append(clientVars(), "topic", "action", "qos", "retain") }

// unknownVars returns the placeholders of t that are not allowed, each once.
func unknownVars(t template, allowed []string) []string {
	var bad []string
	for _, name := range t.vars() {
		ok := slices.Contains(allowed, name) ||
			strings.HasPrefix(name, attrPrefix) && len(name) > len(attrPrefix)
		if !ok && !slices.Contains(bad, name) {
			bad = append(bad, name)
		}
	}
	return bad
}

// checkVars is the build-time error for a template with placeholders that are not allowed.
func checkVars(t template, allowed []string) error {
	bad := unknownVars(t, allowed)
	if len(bad) == 0 {
		return nil
	}
	quoted := make([]string, len(bad))
	for i, name := range bad {
		quoted[i] = "${" + name + "}"
	}
	if len(bad) == 1 {
		return fmt.Errorf("unknown placeholder %s", quoted[0])
	}
	return fmt.Errorf("unknown placeholders %s", strings.Join(quoted, ", "))
}

// bindings are the values placeholders are replaced with: the client's, and for
// authorization the request's. A value the client does not have renders as "", as in EMQX.
type bindings struct {
	c *authn.Client
	r *authn.Request // nil for authentication
}

// value returns the value of the placeholder name.
func (b bindings) value(name string) string {
	c := b.c
	switch name {
	case "clientid":
		return c.ClientID
	case "username":
		return c.Username
	case "password":
		return string(c.Password)
	case "peerhost":
		if c.Peer.Addr().IsValid() {
			return c.Peer.Addr().Unmap().String()
		}
		return ""
	case "peerport":
		if c.Peer.IsValid() {
			return strconv.Itoa(int(c.Peer.Port()))
		}
		return ""
	case "protocol":
		return c.Protocol
	case "listener":
		return c.Listener
	case "cert_common_name":
		return c.CertCommonName
	case "cert_subject":
		return c.CertSubject
	}
	if attr, ok := strings.CutPrefix(name, attrPrefix); ok {
		return c.Attrs[attr]
	}
	if b.r == nil {
		return ""
	}
	switch name {
	case "topic":
		return b.r.Topic
	case "action":
		return b.r.Action.String()
	case "qos":
		return strconv.Itoa(int(b.r.QoS))
	case "retain":
		return strconv.FormatBool(b.r.Retain)
	}
	return ""
}
