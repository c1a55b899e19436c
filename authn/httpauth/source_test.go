package httpauth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
)

func newTestSource(t *testing.T, raw string) *Source {
	t.Helper()
	cfg, err := ParseAuthzConfig([]byte(raw))
	if err != nil {
		t.Fatalf("ParseAuthzConfig: %v", err)
	}
	s, err := NewSource(cfg, nil)
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func check(t *testing.T, s *Source, c *authn.Client, r authn.Request) authn.Decision {
	t.Helper()
	d, index, err := s.Check(context.Background(), c, r)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if index != -1 {
		t.Errorf("index = %d, want -1", index)
	}
	return d
}

func TestSourceAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer answer
		want   authn.Decision
	}{
		{name: "204 allows", answer: answer{status: http.StatusNoContent}, want: authn.Allow},
		{name: "allow", answer: jsonAnswer(`{"result":"allow"}`), want: authn.Allow},
		{name: "deny", answer: jsonAnswer(`{"result":"deny"}`), want: authn.Deny},
		{name: "ignore", answer: jsonAnswer(`{"result":"ignore"}`), want: authn.Ignore},
		{name: "no result", answer: jsonAnswer(`{}`), want: authn.Ignore},
		{name: "garbage", answer: jsonAnswer(`allow`), want: authn.Ignore},
		{name: "form", answer: answer{status: 200, contentType: "application/x-www-form-urlencoded", body: "result=deny"}, want: authn.Deny},
		{name: "500", answer: answer{status: 500}, want: authn.Ignore},
		{name: "403 with a body", answer: answer{status: http.StatusForbidden, contentType: "application/json", body: `{"result":"deny"}`}, want: authn.Ignore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAuthServer(t, func(seen) answer { return tt.answer })
			s := newTestSource(t, `{"type":"http","url":"`+srv.URL+`/authz"}`)
			if got := check(t, s, testClient(), authn.Request{Action: authn.Publish, Topic: "t/1"}); got != tt.want {
				t.Errorf("decision = %v, want %v", got, tt.want)
			}
		})
	}
}

// The URL EMQX's gateway authorization suite uses, with the request's placeholders.
func TestSourceRequest(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return jsonAnswer(`{"result":"allow"}`) })
	s := newTestSource(t, `{"type":"http","method":"get",
		"url":"`+srv.URL+`/authz/users/?topic=${topic}&action=${action}&username=${username}",
		"body":{"qos":"${qos}","retain":"${retain}","clientid":"${clientid}"}}`)
	c := testClient()
	if got := check(t, s, c, authn.Request{Action: authn.Subscribe, Topic: "a/+/#", QoS: 2, Retain: true}); got != authn.Allow {
		t.Fatalf("decision = %v", got)
	}
	req := srv.only(t)
	want := "topic=a%2F%2B%2F%23&action=subscribe&username=alice%26bob&clientid=dev+1%2F%CE%B1&qos=2&retain=true"
	if req.Path != "/authz/users/" || req.Query != want {
		t.Errorf("request %s?%s\nwant query     %s", req.Path, req.Query, want)
	}
}

func TestSourcePostBody(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	s := newTestSource(t, `{"type":"http","url":"`+srv.URL+`/authz",
		"body":{"topic":"${topic}","action":"${action}","username":"${username}"}}`)
	check(t, s, testClient(), authn.Request{Action: authn.Publish, Topic: "x/y"})
	var body map[string]string
	if err := json.Unmarshal([]byte(srv.only(t).Body), &body); err != nil {
		t.Fatal(err)
	}
	if body["topic"] != "x/y" || body["action"] != "publish" || body["username"] != "alice&bob" {
		t.Errorf("body = %v", body)
	}
}

func TestSourceServerDown(t *testing.T) {
	logs, log := newLogBuffer()
	cfg, err := ParseAuthzConfig([]byte(`{"url":"http://127.0.0.1:1/authz?t=${topic}"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSource(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := check(t, s, testClient(), authn.Request{Action: authn.Publish, Topic: "secret/topic"}); got != authn.Ignore {
		t.Errorf("decision = %v", got)
	}
	if out := logs.String(); !strings.Contains(out, "level=WARN") || strings.Contains(out, "t=secret") {
		t.Errorf("log = %q", out)
	}
}

func TestSourceDisabled(t *testing.T) {
	srv := newAuthServer(t, func(seen) answer { return answer{status: http.StatusNoContent} })
	s := newTestSource(t, `{"type":"http","enable":false,"url":"`+srv.URL+`"}`)
	if got := check(t, s, testClient(), authn.Request{Action: authn.Publish, Topic: "t"}); got != authn.Ignore {
		t.Errorf("decision = %v", got)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("server got %d requests", n)
	}
}
