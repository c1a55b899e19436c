package mqtt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/xgate/xgate/authn"
	"github.com/xgate/xgate/gateway"
)

func TestAuthenticator(t *testing.T) {
	b := startBroker(t)
	var mu sync.Mutex
	var seen []authn.Client
	b.SetAuthenticator(func(ctx context.Context, c *authn.Client) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("authentication context has no deadline")
		}
		mu.Lock()
		seen = append(seen, *c)
		mu.Unlock()
		if c.Username != "alice" || string(c.Password) != "secret" {
			return authn.ErrNotAuthorized
		}
		return nil
	})

	creds := func(user, pass, id string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetUsername(user).SetPassword(pass).SetClientID(id) }
	}
	url := "tcp://" + b.Addr(ListenerTCP).String()
	if _, err := dialPaho(t, url, creds("alice", "wrong", "dev-1")); err == nil || !strings.Contains(err.Error(), "not Authorized") {
		t.Errorf("wrong password: connect error %v, want CONNACK not authorized", err)
	}
	if b.Clients() != 0 {
		t.Errorf("refused client counted: Clients() = %d", b.Clients())
	}
	if _, err := dialPaho(t, url, creds("alice", "secret", "dev-2")); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if b.Clients() != 1 {
		t.Errorf("Clients() = %d, want 1", b.Clients())
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("authenticator called %d times, want 2", len(seen))
	}
	c := seen[1]
	if c.ClientID != "dev-2" || c.Protocol != "mqtt" || c.Gateway != "mqtt" || c.Listener != "mqtt:tcp:default" ||
		!c.Peer.Addr().IsLoopback() || c.Peer.Port() == 0 {
		t.Errorf("authn.Client = %+v", c)
	}

	// nil allows everyone again.
	b.SetAuthenticator(nil)
	if _, err := dialPaho(t, url, creds("bob", "", "dev-3")); err != nil {
		t.Errorf("nil authenticator refused: %v", err)
	}
}

func TestClientsCount(t *testing.T) {
	b := startBroker(t)
	c := mustPaho(t, b)
	_ = mustPaho(t, b)
	if _, err := b.Subscribe("a", 0, func(gateway.Message) {}); err != nil { // inline, not counted
		t.Fatal(err)
	}
	if n := b.Clients(); n != 2 {
		t.Errorf("Clients() = %d, want 2", n)
	}
	c.Disconnect(0)
	waitFor(t, testTimeout, func() error {
		if n := b.Clients(); n != 1 {
			return fmt.Errorf("Clients() = %d, want 1", n)
		}
		return nil
	})
}

func TestReservedClientIDs(t *testing.T) {
	b := startBroker(t)
	url := "tcp://" + b.Addr(ListenerTCP).String()
	for _, id := range []string{"inline", inlineClientID, sharedMemberPrefix + "1"} {
		if _, err := dialPaho(t, url, func(o *paho.ClientOptions) { o.SetClientID(id) }); err == nil {
			t.Errorf("client id %q accepted", id)
		}
	}
}

// rules denies every topic under "secret/" unless the client's "role" attribute is "admin".
type rules struct {
	mu    sync.Mutex
	calls []string
}

func (r *rules) Authorize(_ context.Context, c *authn.Client, req authn.Request) authn.Verdict {
	r.mu.Lock()
	r.calls = append(r.calls, req.Action.String()+" "+req.Topic)
	r.mu.Unlock()
	return authn.Verdict{Allowed: !strings.HasPrefix(req.Topic, "secret/") || c.Attrs["role"] == "admin"}
}

func (r *rules) called(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.calls, s)
}

func TestAuthorizer(t *testing.T) {
	b := startBroker(t)
	r := &rules{}
	b.SetAuthorizer(r)
	b.SetAuthenticator(func(_ context.Context, c *authn.Client) error {
		if c.Username == "admin" {
			c.Attrs = map[string]string{"role": "admin"}
		}
		return nil
	})

	t.Run("subscribe denied", func(t *testing.T) {
		got := make(chan string, 10)
		c := mustPaho(t, b)
		tok := c.SubscribeMultiple(map[string]byte{"secret/#": 1, "open/#": 1}, func(_ paho.Client, m paho.Message) { got <- m.Topic() })
		wait(t, tok)
		if res := tok.(*paho.SubscribeToken).Result(); res["secret/#"] != 0x80 || res["open/#"] != 1 {
			t.Errorf("SUBACK results %v, want secret/# refused (0x80) and open/# granted", res)
		}
		if !r.called("subscribe secret/#") {
			t.Error("authorizer not asked about the subscription")
		}
		// Deliveries to one client keep their order, so once open/1 has arrived secret/1
		// would have too.
		for _, topic := range []string{"secret/1", "open/1"} {
			if err := b.Publish(gateway.Message{Topic: topic, Payload: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case topic := <-got:
			if topic != "open/1" {
				t.Errorf("got %s, want only open/1", topic)
			}
		case <-time.After(testTimeout):
			t.Fatal("no message on open/1")
		}
	})

	t.Run("publish denied", func(t *testing.T) {
		var in inbox
		cancel, err := b.Subscribe("#", 0, in.deliver) // inline: not subject to authorization
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		c := mustPaho(t, b)
		wait(t, c.Publish("secret/2", 0, false, "x"))
		wait(t, c.Publish("open/2", 0, false, "x"))
		in.waitN(t, 1)
		if got := in.topics(); !slices.Equal(got, []string{"open/2"}) {
			t.Errorf("inline subscriber got %v, want only open/2", got)
		}
		if !r.called("publish secret/2") {
			t.Error("authorizer not asked about the publish")
		}
	})

	t.Run("attributes from the authenticator", func(t *testing.T) {
		var in inbox
		cancel, err := b.Subscribe("secret/#", 0, in.deliver)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		c := mustPaho(t, b, func(o *paho.ClientOptions) { o.SetUsername("admin") })
		wait(t, c.Publish("secret/3", 0, false, "x"))
		if m := in.waitN(t, 1)[0]; m.Topic != "secret/3" {
			t.Errorf("got %+v", m)
		}
	})

	t.Run("deny all", func(t *testing.T) {
		b.SetAuthorizer(denyAll{})
		defer b.SetAuthorizer(nil)
		c := mustPaho(t, b)
		tok := c.Subscribe("any", 1, func(paho.Client, paho.Message) {})
		wait(t, tok)
		if res := tok.(*paho.SubscribeToken).Result(); res["any"] != 0x80 {
			t.Errorf("SUBACK %v, want refused", res)
		}
		// mochi answers a refused MQTT 3 QoS 1 publish by disconnecting the client.
		tok = c.Publish("any", 1, false, "x")
		tok.WaitTimeout(testTimeout)
		waitFor(t, testTimeout, func() error {
			if c.IsConnectionOpen() {
				return errors.New("client still connected")
			}
			return nil
		})
	})
}

type denyAll struct{}

func (denyAll) Authorize(context.Context, *authn.Client, authn.Request) authn.Verdict {
	return authn.Verdict{}
}
