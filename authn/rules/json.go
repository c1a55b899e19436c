package rules

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Decoding is strict, as the API's 400 answers need: an unknown or repeated key, a value of
// the wrong JSON type or a null is an error naming its field. Decoding checks shapes only;
// Validate and Compile check values (regexes, addresses, topics).

// maxWhoDepth bounds the nesting of "and"/"or", which no real rule approaches, so that a
// hostile document cannot make decoding or matching recurse without end.
const maxWhoDepth = 32

// ParseRules decodes and validates a JSON array of rules. Errors are *FieldError naming the
// rule, e.g. `rules[3].who: unknown key "usr"`.
func ParseRules(data []byte) ([]Rule, error) {
	if jsonKind(data) != '[' {
		return nil, fieldErr("rules", "must be a JSON array")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fieldErr("rules", "invalid JSON: %v", err)
	}
	rules := make([]Rule, len(raws))
	for i, raw := range raws {
		err := rules[i].UnmarshalJSON(raw)
		if err == nil {
			err = rules[i].Validate()
		}
		if err != nil {
			return nil, under(indexed("rules", i), err)
		}
	}
	return rules, nil
}

// MarshalJSON writes the rule with "topics" always present, [] when it matches every topic.
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule // without methods, so json.Marshal does not come back here
	p := plain(r)
	if p.Topics == nil {
		p.Topics = []string{}
	}
	return json.Marshal(p)
}

// UnmarshalJSON decodes a rule strictly; see Rule for the form.
func (r *Rule) UnmarshalJSON(data []byte) error {
	var out Rule
	err := eachMember(data, func(key string, v json.RawMessage) error {
		var err error
		switch key {
		case "permission":
			var s string
			s, err = decodeString(v)
			out.Permission = Permission(s)
		case "who":
			out.Who, err = decodeWho(v, 0)
		case "action":
			var s string
			s, err = decodeString(v)
			out.Action = Action(s)
		case "qos":
			out.QoS, err = decodeQoS(v)
		case "retain":
			err = out.Retain.UnmarshalJSON(v)
		case "topics":
			out.Topics, err = decodeStrings(v)
		case "comment":
			out.Comment, err = decodeString(v)
		default:
			return unknownKey(key)
		}
		return under(key, err)
	})
	if err != nil {
		return err
	}
	*r = out
	return nil
}

// MarshalJSON writes "all" or an object with one key per condition set.
func (w Who) MarshalJSON() ([]byte, error) {
	if w.IsAll() {
		return []byte(`"all"`), nil
	}
	m := make(map[string]any, 1)
	if w.Username != nil {
		m["username"] = *w.Username
	}
	if w.ClientID != nil {
		m["clientid"] = *w.ClientID
	}
	if w.IPAddr != "" {
		m["ipaddr"] = w.IPAddr
	}
	if len(w.IPAddrs) > 0 {
		m["ipaddrs"] = w.IPAddrs
	}
	if w.Listener != "" {
		m["listener"] = w.Listener
	}
	if w.ClientAttr != nil {
		m["client_attr"] = *w.ClientAttr
	}
	if len(w.And) > 0 {
		m["and"] = w.And
	}
	if len(w.Or) > 0 {
		m["or"] = w.Or
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes "all" or a one-key object; see Who.
func (w *Who) UnmarshalJSON(data []byte) error {
	out, err := decodeWho(data, 0)
	if err != nil {
		return err
	}
	*w = out
	return nil
}

func decodeWho(data []byte, depth int) (Who, error) {
	if depth > maxWhoDepth {
		return Who{}, fieldErr("", `"and"/"or" nested more than %d deep`, maxWhoDepth)
	}
	if jsonKind(data) == '"' {
		s, err := decodeString(data)
		if err == nil && s != "all" {
			err = fieldErr("", `%q is not "all" or an object such as {"username": "u"}`, s)
		}
		return Who{}, err
	}
	if jsonKind(data) != '{' {
		return Who{}, fieldErr("", `must be "all" or an object such as {"username": "u"}`)
	}
	var w Who
	keys := 0
	err := eachMember(data, func(key string, v json.RawMessage) error {
		if keys++; keys > 1 {
			return fieldErr("", `has more than one key; combine conditions with "and" or "or"`)
		}
		var err error
		switch key {
		case "username":
			w.Username, err = decodeStringMatch(v)
		case "clientid":
			w.ClientID, err = decodeStringMatch(v)
		case "ipaddr":
			w.IPAddr, err = decodeNonEmptyString(v)
		case "ipaddrs":
			w.IPAddrs, err = decodeStrings(v)
			if err == nil && len(w.IPAddrs) == 0 {
				err = fieldErr("", "must not be empty")
			}
		case "listener":
			w.Listener, err = decodeNonEmptyString(v)
		case "client_attr":
			w.ClientAttr, err = decodeAttrMatch(v)
		case "and":
			w.And, err = decodeWhoList(v, depth)
		case "or":
			w.Or, err = decodeWhoList(v, depth)
		default:
			return unknownKey(key)
		}
		return under(key, err)
	})
	if err == nil && keys == 0 {
		err = fieldErr("", `is an empty object; write "all" to match every client`)
	}
	return w, err
}

func decodeWhoList(data []byte, depth int) ([]Who, error) {
	raws, err := decodeArray(data)
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, fieldErr("", "must not be empty")
	}
	list := make([]Who, len(raws))
	for i, raw := range raws {
		if list[i], err = decodeWho(raw, depth+1); err != nil {
			return nil, under(indexed("", i), err)
		}
	}
	return list, nil
}

// MarshalJSON writes "value", or {"re": "value"} for a regex.
func (m StringMatch) MarshalJSON() ([]byte, error) {
	if m.Re {
		return json.Marshal(map[string]string{"re": m.Value})
	}
	return json.Marshal(m.Value)
}

// UnmarshalJSON decodes "value" or {"re": "value"}.
func (m *StringMatch) UnmarshalJSON(data []byte) error {
	out, err := decodeStringMatch(data)
	if err != nil {
		return err
	}
	*m = *out
	return nil
}

func decodeStringMatch(data []byte) (*StringMatch, error) {
	if jsonKind(data) == '"' {
		s, err := decodeString(data)
		return &StringMatch{Value: s}, err
	}
	if jsonKind(data) != '{' {
		return nil, fieldErr("", `must be a string or {"re": "regex"}`)
	}
	m := &StringMatch{Re: true}
	seen := false
	err := eachMember(data, func(key string, v json.RawMessage) error {
		if key != "re" {
			return unknownKey(key)
		}
		seen = true
		var err error
		m.Value, err = decodeString(v)
		return under(key, err)
	})
	if err == nil && !seen {
		err = fieldErr("", `must be a string or {"re": "regex"}`)
	}
	return m, err
}

// UnmarshalJSON decodes {"name": "n", "value": "v" | {"re": "r"}}.
func (m *AttrMatch) UnmarshalJSON(data []byte) error {
	out, err := decodeAttrMatch(data)
	if err != nil {
		return err
	}
	*m = *out
	return nil
}

func decodeAttrMatch(data []byte) (*AttrMatch, error) {
	m := &AttrMatch{}
	err := eachMember(data, func(key string, v json.RawMessage) error {
		var err error
		switch key {
		case "name":
			m.Name, err = decodeString(v)
		case "value":
			var sm *StringMatch
			if sm, err = decodeStringMatch(v); err == nil {
				m.Value = *sm
			}
		default:
			return unknownKey(key)
		}
		return under(key, err)
	})
	return m, err
}

// MarshalJSON writes "all", true or false.
func (r Retain) MarshalJSON() ([]byte, error) {
	switch r {
	case RetainTrue:
		return []byte("true"), nil
	case RetainFalse:
		return []byte("false"), nil
	}
	return []byte(`"all"`), nil
}

// UnmarshalJSON decodes "all", true or false.
func (r *Retain) UnmarshalJSON(data []byte) error {
	switch string(bytes.TrimSpace(data)) {
	case `"all"`:
		*r = RetainAll
	case "true":
		*r = RetainTrue
	case "false":
		*r = RetainFalse
	default:
		return fieldErr("", `must be true, false or "all"`)
	}
	return nil
}

func decodeQoS(data []byte) ([]int, error) {
	raws, err := decodeArray(data)
	if err != nil {
		return nil, err
	}
	qos := make([]int, len(raws))
	for i, raw := range raws {
		// Range is Validate's business; here only the type is checked.
		q, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil {
			return nil, fieldErr(indexed("", i), "must be an integer")
		}
		qos[i] = q
	}
	return qos, nil
}

func decodeStrings(data []byte) ([]string, error) {
	raws, err := decodeArray(data)
	if err != nil {
		return nil, err
	}
	list := make([]string, len(raws))
	for i, raw := range raws {
		if list[i], err = decodeString(raw); err != nil {
			return nil, under(indexed("", i), err)
		}
	}
	return list, nil
}

func decodeArray(data []byte) ([]json.RawMessage, error) {
	if jsonKind(data) != '[' {
		return nil, fieldErr("", "must be an array")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fieldErr("", "invalid JSON: %v", err)
	}
	return raws, nil
}

func decodeString(data []byte) (string, error) {
	if jsonKind(data) != '"' {
		return "", fieldErr("", "must be a string")
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", fieldErr("", "invalid JSON: %v", err)
	}
	return s, nil
}

// decodeNonEmptyString is for fields whose empty value would read back as "not set".
func decodeNonEmptyString(data []byte) (string, error) {
	s, err := decodeString(data)
	if err == nil && s == "" {
		err = fieldErr("", "must not be empty")
	}
	return s, err
}

// eachMember calls fn for each member of the JSON object data, in order, refusing a
// repeated key (encoding/json would silently keep the last).
func eachMember(data []byte, fn func(key string, value json.RawMessage) error) error {
	if jsonKind(data) != '{' {
		return fieldErr("", "must be an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return fieldErr("", "invalid JSON: %v", err)
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fieldErr("", "invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fieldErr("", "repeated key %q", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return fieldErr(key, "invalid JSON: %v", err)
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fieldErr("", "invalid JSON: %v", err)
	}
	return nil
}

func unknownKey(key string) error {
	return fieldErr("", "unknown key %q", key)
}

// jsonKind returns the first byte of the JSON value in data: '{', '[', '"', 't', 'f', 'n'
// or a digit or '-', or 0 for empty input.
func jsonKind(data []byte) byte {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return 0
	}
	return data[0]
}
