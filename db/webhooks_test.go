package db

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestWebhooks(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "xgate.db"))
	ctx := t.Context()
	if got, err := d.Webhooks(ctx); err != nil || len(got) != 0 {
		t.Fatalf("fresh database: %v, %v", got, err)
	}
	a := Webhook{Name: "a", URL: "http://127.0.0.1:1/a", Events: []string{"client.connected"},
		Headers: map[string]string{"Authorization": "Bearer x"}, Enable: true}
	b := Webhook{Name: "b", URL: "http://127.0.0.1:1/b", Events: []string{"client.disconnected", "message.publish"}}
	for _, w := range []Webhook{b, a} {
		if err := d.AddWebhook(ctx, w); err != nil {
			t.Fatalf("AddWebhook(%s): %v", w.Name, err)
		}
	}
	if err := d.AddWebhook(ctx, a); !errors.Is(err, ErrExists) {
		t.Fatalf("AddWebhook twice: %v, want ErrExists", err)
	}
	list, err := d.Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "list by name", list, []Webhook{a, b})
	got, ok, err := d.Webhook(ctx, "b")
	if err != nil || !ok {
		t.Fatalf("Webhook(b): %v %v", ok, err)
	}
	mustEqual(t, "b", got, b)
	if _, ok, err := d.Webhook(ctx, "nope"); ok || err != nil {
		t.Fatalf("Webhook(nope): %v %v", ok, err)
	}

	b.Enable, b.Events, b.Headers = true, []string{"client.connack"}, map[string]string{"X-A": "1"}
	if err := d.UpdateWebhook(ctx, b); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	if err := d.UpdateWebhook(ctx, Webhook{Name: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateWebhook(nope): %v, want ErrNotFound", err)
	}
	if err := d.DeleteWebhook(ctx, "a"); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if err := d.DeleteWebhook(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteWebhook twice: %v, want ErrNotFound", err)
	}
	list, err = reopen(t, d).Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "after reopen", list, []Webhook{b})
}
