package coap

import (
	"strconv"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/pool"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// responseCacheSize bounds the responses a connection keeps for de-duplication.
//
// A small bound keeps de-duplication correct for real devices: with NSTART = 1 (RFC 7252
// §4.7) a device has one exchange outstanding and retransmits only that request, so the
// response it can ask for again is the latest one it was sent. The rest of the bound is
// room for datagrams the network duplicated and delayed (§4.5) and for clients that
// pipeline a few requests. go-coap's default keeps every response for EXCHANGE_LIFETIME,
// over 6000 per peer at 25 requests/s.
const responseCacheSize = 64

// responseCache is one connection's udpclient.MessageCache: the encoded responses to its
// most recent requests by message ID, each for at most EXCHANGE_LIFETIME (RFC 7252 §4.8.2).
// go-coap calls Load and Store from the connection's handler goroutines and
// CheckExpirations from the listener's tick.
type responseCache struct {
	mu      sync.Mutex
	entries []cachedResponse // a ring once full; next is the oldest
	next    int
}

type cachedResponse struct {
	expires int64 // unix nanoseconds; 0 once expired
	mid     uint16
	raw     []byte
}

var _ udpclient.MessageCache = (*responseCache)(nil)

// parseMID reads go-coap's cache key, the request's message ID in decimal.
func parseMID(key string) (uint16, bool) {
	n, err := strconv.ParseUint(key, 10, 16)
	return uint16(n), err == nil
}

// Load decodes the response cached for key into msg.
func (c *responseCache) Load(key string, msg *pool.Message) (bool, error) {
	mid, ok := parseMID(key)
	if !ok {
		return false, nil
	}
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Newest first: a message ID the peer reused after eviction finds its latest answer.
	for i := range c.entries {
		e := &c.entries[(c.next-1-i+2*len(c.entries))%len(c.entries)]
		if e.mid == mid && e.expires > now {
			_, err := msg.UnmarshalWithDecoder(coder.DefaultCoder, e.raw)
			return err == nil, err
		}
	}
	return false, nil
}

// Store encodes msg as the response for key, replacing the oldest entry when full.
func (c *responseCache) Store(key string, msg *pool.Message) error {
	mid, ok := parseMID(key)
	if !ok {
		return nil
	}
	raw, err := msg.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		return err
	}
	expires := time.Now().Add(udpclient.ExchangeLifetime).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < responseCacheSize {
		c.entries = append(c.entries, cachedResponse{})
	}
	e := &c.entries[c.next]
	c.next = (c.next + 1) % responseCacheSize
	// raw is msg's own buffer: copy it, reusing the slot's memory.
	*e = cachedResponse{expires: expires, mid: mid, raw: append(e.raw[:0], raw...)}
	return nil
}

// CheckExpirations frees the responses older than EXCHANGE_LIFETIME.
func (c *responseCache) CheckExpirations(now time.Time) {
	t := now.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.entries {
		if e := &c.entries[i]; e.expires != 0 && e.expires <= t {
			*e = cachedResponse{}
		}
	}
}

// size returns the number of responses held.
func (c *responseCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if e.expires != 0 {
			n++
		}
	}
	return n
}
