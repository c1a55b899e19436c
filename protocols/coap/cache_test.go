package coap

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// response makes the kind of message go-coap caches: an ACK with a code, token and payload.
func response(mid int, payload string) *pool.Message {
	m := pool.NewMessage(context.Background())
	m.SetType(message.Acknowledgement)
	m.SetMessageID(int32(mid))
	m.SetCode(codes.Changed)
	m.SetToken([]byte{byte(mid), 0xab})
	m.SetContentFormat(message.TextPlain)
	m.SetBody(bytes.NewReader([]byte(payload)))
	return m
}

func load(t *testing.T, c *responseCache, mid int) (*pool.Message, bool) {
	t.Helper()
	m := pool.NewMessage(context.Background())
	ok, err := c.Load(strconv.Itoa(mid), m)
	if err != nil {
		t.Fatalf("load %d: %v", mid, err)
	}
	return m, ok
}

func TestResponseCacheLoadAfterStore(t *testing.T) {
	c := &responseCache{}
	want := response(7, "seven")
	if err := c.Store("7", want); err != nil {
		t.Fatal(err)
	}
	want.SetBody(bytes.NewReader([]byte("changed after Store"))) // the cache holds its own copy
	got, ok := load(t, c, 7)
	if !ok {
		t.Fatal("stored response not found")
	}
	body, _ := got.ReadBody()
	cf, _ := got.ContentFormat()
	if got.Type() != message.Acknowledgement || got.MessageID() != 7 || got.Code() != codes.Changed ||
		!bytes.Equal(got.Token(), []byte{7, 0xab}) || cf != message.TextPlain || string(body) != "seven" {
		t.Fatalf("got %v", got)
	}
	if _, ok := load(t, c, 8); ok {
		t.Fatal("found a response never stored")
	}
	if _, ok := load(t, c, 65536+7); ok {
		t.Fatal("a key out of the message ID range matched")
	}
}

func TestResponseCacheEvictsOldest(t *testing.T) {
	c := &responseCache{}
	const n = 3*responseCacheSize + 5
	for mid := range n {
		if err := c.Store(strconv.Itoa(mid), response(mid, strconv.Itoa(mid))); err != nil {
			t.Fatal(err)
		}
		if c.size() > responseCacheSize {
			t.Fatalf("%d responses held, bound %d", c.size(), responseCacheSize)
		}
	}
	for mid := range n {
		got, ok := load(t, c, mid)
		if kept := mid >= n-responseCacheSize; ok != kept {
			t.Fatalf("mid %d: found %v, want %v", mid, ok, kept)
		}
		if body, _ := got.ReadBody(); ok && string(body) != strconv.Itoa(mid) {
			t.Fatalf("mid %d: got %q", mid, body)
		}
	}
}

func TestResponseCacheReusedMessageIDFindsNewest(t *testing.T) {
	c := &responseCache{}
	c.Store("9", response(9, "old"))
	c.Store("9", response(9, "new"))
	got, _ := load(t, c, 9)
	if body, _ := got.ReadBody(); string(body) != "new" {
		t.Fatalf("got %q", body)
	}
}

func TestResponseCacheExpires(t *testing.T) {
	c := &responseCache{}
	c.Store("1", response(1, "x"))
	c.CheckExpirations(time.Now().Add(udpclient.ExchangeLifetime - time.Second))
	if _, ok := load(t, c, 1); !ok || c.size() != 1 {
		t.Fatal("expired before EXCHANGE_LIFETIME")
	}
	c.CheckExpirations(time.Now().Add(udpclient.ExchangeLifetime + time.Second))
	if _, ok := load(t, c, 1); ok || c.size() != 0 {
		t.Fatal("still held after EXCHANGE_LIFETIME")
	}
	if c.entries[0].raw != nil {
		t.Fatal("expired response's memory not freed")
	}
}
