package builtin

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// parseCSV reads a CSV file whose header row names its columns.
func parseCSV(data []byte, columns []string) (records []record, failed int, err error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // a short or long row is one failed record, not a bad file
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, errors.New("import csv: no header row")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("import csv: %w", err)
	}
	names, err := headerNames(header, columns)
	if err != nil {
		return nil, 0, err
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return records, failed, nil
		}
		if err != nil {
			// Broken quoting leaves no reliable record boundary to resume at.
			return nil, 0, fmt.Errorf("import csv: %w", err)
		}
		if len(records)+failed == MaxImportRecords {
			return nil, 0, errTooMany(FormatCSV)
		}
		if len(row) != len(names) {
			failed++
			continue
		}
		rec := make(record, len(names))
		for i, v := range row {
			rec[names[i]] = v
		}
		records = append(records, rec)
	}
}

// headerNames checks the header row against the allowed columns, the first two of which
// are required, and returns the column name of each position.
func headerNames(header, columns []string) ([]string, error) {
	names := make([]string, len(header))
	for i, h := range header {
		name := strings.TrimSpace(h)
		if !slices.Contains(columns, name) {
			return nil, fmt.Errorf("import csv: header, column %d: unknown column %q (want %s)",
				i+1, name, strings.Join(columns, ", "))
		}
		if slices.Contains(names[:i], name) {
			return nil, fmt.Errorf("import csv: header, column %d: column %q appears twice", i+1, name)
		}
		names[i] = name
	}
	for _, required := range columns[:2] {
		if !slices.Contains(names, required) {
			return nil, fmt.Errorf("import csv: header: missing column %q", required)
		}
	}
	return names, nil
}
