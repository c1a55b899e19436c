package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// parseJSON reads a JSON array of user objects.
func parseJSON(data []byte, columns []string) (records []record, failed int, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, 0, errors.New("import json: empty file: want an array of users")
	}
	// Checking the whole file first gives syntax errors an exact position, which the
	// streaming Decoder does not, and leaves it only structural surprises.
	if !json.Valid(data) {
		return nil, 0, syntaxError(data, json.Unmarshal(data, new(any))) // only to get the error
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, 0, fmt.Errorf("import json: %s: want an array of users",
			position(data, valueStart(data, 0)))
	}
	for dec.More() {
		if len(records)+failed == MaxImportRecords {
			return nil, 0, errTooMany(FormatJSON)
		}
		start := valueStart(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, 0, fmt.Errorf("import json: %s: %w", position(data, start), err)
		}
		rec, ok, err := jsonRecord(raw, columns)
		if err != nil {
			return nil, 0, fmt.Errorf("import json: record %d (%s): %w",
				len(records)+failed+1, position(data, start), err)
		}
		if !ok {
			failed++
			continue
		}
		records = append(records, rec)
	}
	return records, failed, nil
}

// jsonRecord reads one array element. ok is false for an element that is not an object
// or holds a value of the wrong type; err reports an unknown field, a mistake about the
// whole file rather than one record.
func jsonRecord(raw json.RawMessage, columns []string) (rec record, ok bool, err error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, false, nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same unknown field every time
	rec = make(record, len(obj))
	ok = true
	for _, k := range keys {
		if !slices.Contains(columns, k) {
			return nil, false, fmt.Errorf("unknown field %q (want %s)", k, strings.Join(columns, ", "))
		}
		var v any
		if json.Unmarshal(obj[k], &v) != nil {
			return nil, false, nil
		}
		switch v := v.(type) {
		case nil:
		case string:
			rec[k] = v
		case bool:
			if k != colIsSuperuser {
				ok = false
			}
			rec[k] = fmt.Sprint(v)
		default:
			ok = false
		}
	}
	return rec, ok, nil
}

// syntaxError places a syntax error from json.Unmarshal in the file.
func syntaxError(data []byte, err error) error {
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		return fmt.Errorf("import json: %w", err)
	}
	// Offset counts the offending byte itself; at the end of a truncated file it is
	// the file's length, which places the error on the last byte.
	return fmt.Errorf("import json: %s: %w", position(data, syntaxErr.Offset-1), err)
}

// valueStart skips the separators from offset to where the next value begins.
func valueStart(data []byte, offset int64) int64 {
	for offset < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[offset]) >= 0 {
		offset++
	}
	return offset
}

// position writes a byte offset as a 1-based line and column.
func position(data []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	column := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, column)
}
