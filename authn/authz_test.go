package authn

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

// topicSource decides by exact topic; anything else is ignored or fails.
type topicSource map[string]Decision

func (s topicSource) Check(_ context.Context, _ *Client, r Request) (Decision, int, error) {
	if r.Topic == "broken" {
		return Ignore, -1, errors.New("source down")
	}
	d, ok := s[r.Topic]
	if !ok {
		return Ignore, -1, nil
	}
	return d, 7, nil
}

func TestAuthzOrderAndNoMatch(t *testing.T) {
	a := NewAuthz(slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := &Client{ClientID: "c1"}
	pub := func(topic string) Request { return Request{Action: Publish, Topic: topic} }
	if v := a.Authorize(context.Background(), c, pub("x")); !v.Allowed || v.Source != "no_match" {
		t.Fatalf("no sources: %+v, want allowed by no_match", v)
	}

	first := topicSource{"a": Deny}
	second := topicSource{"a": Allow, "b": Allow}
	a.Set(AuthzSettings{NoMatch: "deny", DenyAction: "disconnect"},
		[]NamedSource{{Name: "rules", Source: first}, {Name: "http", Source: second}})
	cases := []struct {
		topic      string
		allowed    bool
		disconnect bool
		source     string
	}{
		{"a", false, true, "rules"}, // the first source that decides wins
		{"b", true, false, "http"},  // ignored by the first
		{"c", false, true, "no_match"},
		{"broken", false, true, "no_match"}, // a failing source is skipped
	}
	for _, tc := range cases {
		v := a.Authorize(context.Background(), c, pub(tc.topic))
		if v.Allowed != tc.allowed || v.Disconnect != tc.disconnect || v.Source != tc.source {
			t.Errorf("%s: got %+v, want allowed=%v disconnect=%v source=%s", tc.topic, v, tc.allowed, tc.disconnect, tc.source)
		}
	}

	su := &Client{ClientID: "root", IsSuperuser: true}
	if v := a.Authorize(context.Background(), su, pub("a")); !v.Allowed || v.Source != "superuser" {
		t.Errorf("superuser: %+v", v)
	}
}

func TestAuthzSettingsValidate(t *testing.T) {
	if err := DefaultAuthzSettings().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []AuthzSettings{{NoMatch: "maybe", DenyAction: "ignore"}, {NoMatch: "allow", DenyAction: "kill"}} {
		if s.Validate() == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
}
