package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Webhook is an outbound webhook: the gateway events it names are POSTed to URL. The API
// validates it; the database only stores it.
type Webhook struct {
	Name    string            `json:"name"`
	URL     string            `json:"url"`
	Events  []string          `json:"events"`
	Headers map[string]string `json:"headers,omitempty"`
	Enable  bool              `json:"enable"`
}

const webhookColumns = `name, url, events, headers, enable`

func scanWebhook(scan func(...any) error) (Webhook, error) {
	var w Webhook
	var events, headers string
	if err := scan(&w.Name, &w.URL, &events, &headers, &w.Enable); err != nil {
		return Webhook{}, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s: stored events: %w", w.Name, err)
	}
	if err := json.Unmarshal([]byte(headers), &w.Headers); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s: stored headers: %w", w.Name, err)
	}
	if len(w.Headers) == 0 {
		w.Headers = nil
	}
	return w, nil
}

// webhookJSON encodes the JSON columns of w.
func webhookJSON(w Webhook) (events, headers string, err error) {
	ev := w.Events
	if ev == nil {
		ev = []string{}
	}
	h := w.Headers
	if h == nil {
		h = map[string]string{}
	}
	eb, err := json.Marshal(ev)
	if err != nil {
		return "", "", err
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", "", err
	}
	return string(eb), string(hb), nil
}

// Webhooks lists the webhooks by name.
func (d *DB) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out []Webhook
	err := scanEach(ctx, d.sql, `SELECT `+webhookColumns+` FROM webhooks ORDER BY name`,
		func(scan func(...any) error) error {
			w, err := scanWebhook(scan)
			out = append(out, w)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return out, nil
}

// Webhook returns the webhook named name.
func (d *DB) Webhook(ctx context.Context, name string) (Webhook, bool, error) {
	row := d.sql.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE name = ?`, name)
	w, err := scanWebhook(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, false, nil
	}
	if err != nil {
		return Webhook{}, false, fmt.Errorf("webhook %s: %w", name, err)
	}
	return w, true, nil
}

// AddWebhook stores a new webhook; ErrExists if the name is taken.
func (d *DB) AddWebhook(ctx context.Context, w Webhook) error {
	events, headers, err := webhookJSON(w)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	_, err = d.sql.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?)`,
		w.Name, w.URL, events, headers, w.Enable)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("webhook %s: %w", w.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	return nil
}

// UpdateWebhook replaces the webhook named w.Name; ErrNotFound if there is none.
func (d *DB) UpdateWebhook(ctx context.Context, w Webhook) error {
	events, headers, err := webhookJSON(w)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	res, err := d.sql.ExecContext(ctx, `UPDATE webhooks SET url = ?, events = ?, headers = ?, enable = ?,
		updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE name = ?`, w.URL, events, headers, w.Enable, w.Name)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("webhook %s: %w", w.Name, ErrNotFound)
	}
	return nil
}

// DeleteWebhook removes the webhook named name; ErrNotFound if there is none.
func (d *DB) DeleteWebhook(ctx context.Context, name string) error {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM webhooks WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("webhook %s: %w", name, ErrNotFound)
	}
	return nil
}
