package gateway

import (
	"strings"
)

// ExpandMountpoint replaces the placeholders of a mountpoint template with the client's
// values: ${clientid}, ${username}, ${peerhost}, ${endpoint_name} and ${client_attrs.X}.
// Unknown placeholders stay literal, as in EMQX. A placeholder whose value is empty expands
// to nothing.
func ExpandMountpoint(tmpl string, ci *ClientInfo) string {
	return expand(tmpl, func(name string) (string, bool) { return placeholder(name, ci) }, true)
}

func placeholder(name string, ci *ClientInfo) (string, bool) {
	switch name {
	case "clientid":
		return ci.ClientID, true
	case "username":
		return ci.Username, true
	case "peerhost":
		if !ci.Peer.IsValid() {
			return "", true
		}
		return ci.Peer.Addr().Unmap().String(), true
	case "endpoint_name":
		return ci.Attrs["endpoint_name"], true
	}
	if attr, ok := strings.CutPrefix(name, "client_attrs."); ok {
		return ci.Attrs[attr], true
	}
	return "", false
}

// Mount prefixes a topic or filter with the mountpoint. A shared subscription keeps its
// "$share/<group>/" in front: "$share/g/a" under "mp/" is "$share/g/mp/a".
func Mount(mountpoint, topic string) string {
	if mountpoint == "" {
		return topic
	}
	if rest, ok := strings.CutPrefix(topic, "$share/"); ok {
		if group, filter, ok := strings.Cut(rest, "/"); ok {
			return "$share/" + group + "/" + mountpoint + filter
		}
	}
	return mountpoint + topic
}

// Unmount strips the mountpoint from a delivered topic.
func Unmount(mountpoint, topic string) string {
	return strings.TrimPrefix(topic, mountpoint)
}

// ExpandOverride fills a clientinfo_override template such as "${Packet.headers.login}" from
// vars; unknown placeholders expand to nothing (an override names a value the client did
// not send: the field is then empty, as in EMQX).
func ExpandOverride(tmpl string, vars func(name string) (string, bool)) string {
	return expand(tmpl, vars, false)
}

// expand replaces every ${name} in tmpl with lookup(name). Unknown names stay literal when
// keepUnknown is set, and expand to nothing otherwise.
func expand(tmpl string, lookup func(string) (string, bool), keepUnknown bool) string {
	if !strings.Contains(tmpl, "${") {
		return tmpl
	}
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		if v, ok := lookup(rest[i+2 : i+j]); ok {
			b.WriteString(v)
		} else if keepUnknown {
			b.WriteString(rest[i : i+j+1])
		}
		rest = rest[i+j+1:]
	}
	return b.String()
}
