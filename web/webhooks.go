package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xgate/xgate/db"
	"github.com/xgate/xgate/gateway"
)

// evWebhook is the running state of one stored webhook: its worker, when it is enabled,
// reads the queue that its sink fills.
type evWebhook struct {
	cfg   db.Webhook
	stats *evWebhookStats // kept across changes of the webhook, reset when it is deleted
	queue chan evEvent
	sink  *evSink // nil when disabled

	cancel context.CancelFunc // stops the worker at once; nil when none was started
	quit   chan struct{}      // closed to stop the worker after the event in hand
}

// retire stops the worker once it has finished the event it is delivering, so that a
// change of the webhook neither waits for a slow server nor loses that event.
func (wh *evWebhook) retire() {
	if wh.quit != nil {
		close(wh.quit)
	}
}

// stop stops the worker at once: a POST in flight is cancelled.
func (wh *evWebhook) stop() {
	if wh.cancel != nil {
		wh.cancel()
	}
}

// evWebhookStats are a webhook's counters.
type evWebhookStats struct {
	delivered, failed, dropped atomic.Int64

	mu          sync.Mutex
	lastError   string
	lastErrorAt time.Time
}

func (st *evWebhookStats) setError(err error) {
	st.mu.Lock()
	st.lastError, st.lastErrorAt = err.Error(), time.Now()
	st.mu.Unlock()
}

// evWebhookMetrics is what GET /webhooks shows of a webhook's work.
type evWebhookMetrics struct {
	Delivered   int64      `json:"delivered"`
	Failed      int64      `json:"failed"`
	Dropped     int64      `json:"dropped"`
	Queued      int        `json:"queued"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
}

// webhookMetrics returns the counters of the webhook name (zero when it is unknown) and
// whether its worker runs.
func (e *Events) webhookMetrics(name string) (evWebhookMetrics, bool) {
	e.mu.Lock()
	wh := e.webhooks[name]
	e.mu.Unlock()
	if wh == nil {
		return evWebhookMetrics{}, false
	}
	st := wh.stats
	m := evWebhookMetrics{Delivered: st.delivered.Load(), Failed: st.failed.Load(), Dropped: st.dropped.Load(),
		Queued: len(wh.queue)}
	st.mu.Lock()
	m.LastError = st.lastError
	if !st.lastErrorAt.IsZero() {
		at := st.lastErrorAt.UTC()
		m.LastErrorAt = &at
	}
	st.mu.Unlock()
	return m, wh.sink != nil
}

// changeWebhooks runs change, which writes webhooks to the store, then makes the workers
// match what is stored: a new or changed enabled webhook (re)starts its worker, a disabled
// one stops after the event in hand, a deleted one at once. A changed webhook keeps its
// counters and the events queued for it. An error from change is returned as is, and
// nothing running changes.
func (e *Events) changeWebhooks(ctx context.Context, change func() error) error {
	e.whMu.Lock()
	defer e.whMu.Unlock()
	if err := change(); err != nil {
		return err
	}
	list, err := e.store.Webhooks(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	next := make(map[string]*evWebhook, len(list))
	for _, w := range list {
		prev := e.webhooks[w.Name]
		if prev != nil && reflect.DeepEqual(prev.cfg, w) {
			next[w.Name] = prev
			continue
		}
		wh := &evWebhook{cfg: w, stats: &evWebhookStats{}}
		if prev != nil {
			wh.stats = prev.stats
			if prev.cfg.Enable && w.Enable {
				wh.queue = prev.queue
			}
			// Until it has finished, the old worker may take one more event off the queue
			// the new one reads; it delivers it with the old configuration.
			prev.retire()
		}
		if wh.queue == nil {
			wh.queue = make(chan evEvent, e.cfg.WebhookQueue)
		}
		if w.Enable {
			wh.sink = &evSink{types: evMaskOf(w.Events), queue: wh.queue, dropped: &wh.stats.dropped}
			var workerCtx context.Context
			workerCtx, wh.cancel = context.WithCancel(e.ctx)
			wh.quit = make(chan struct{})
			e.wg.Add(1)
			go e.runWebhook(workerCtx, wh)
		}
		next[w.Name] = wh
	}
	for name, prev := range e.webhooks {
		if next[name] == nil {
			prev.stop()
		}
	}
	e.webhooks = next
	e.rebuildLocked()
	return nil
}

// evMaskOf is the set of the named event types (unknown names are left out).
func evMaskOf(types []string) evMask {
	var m evMask
	for _, t := range types {
		m |= evTypeBit(gateway.EventType(t))
	}
	return m
}

// runWebhook POSTs the events of the queue one at a time until ctx ends or the webhook
// is retired.
func (e *Events) runWebhook(ctx context.Context, wh *evWebhook) {
	defer e.wg.Done()
	defer wh.cancel()
	log := e.log.With("webhook", wh.cfg.Name)
	failing := false
	for {
		select {
		case <-wh.quit:
			return
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-wh.quit:
			return
		case ev := <-wh.queue:
			err := e.deliver(ctx, wh.cfg, ev.marshal())
			if ctx.Err() != nil {
				return // stopped: the event is neither delivered nor failed
			}
			if err != nil {
				wh.stats.failed.Add(1)
				wh.stats.setError(err)
				if !failing {
					log.Warn("webhook delivery failed", "event", ev.Type, "error", err)
				}
				failing = true
				continue
			}
			wh.stats.delivered.Add(1)
			if failing {
				log.Info("webhook delivers again")
			}
			failing = false
		}
	}
}

// deliver POSTs body, retrying with a doubling pause, and returns the last attempt's error.
func (e *Events) deliver(ctx context.Context, w db.Webhook, body []byte) error {
	var err error
	pause := e.cfg.WebhookBackoff
	for attempt := 1; attempt <= e.cfg.WebhookAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			pause *= 2
		}
		if err = e.post(ctx, w, body); err == nil {
			return nil
		}
	}
	return err
}

// post makes one attempt: a 2xx answer within the timeout delivers the event.
func (e *Events) post(ctx context.Context, w db.Webhook, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("url: not a URL") // validated when stored; never echo it
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "xgate")
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// The cause only: the URL may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %v", e.cfg.WebhookTimeout)
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// evSecretMask replaces secrets in API answers. A PUT that sends it back keeps the stored
// value.
const evSecretMask = "******"

// evSecretHeader reports whether a header's value is a credential that answers must not show.
func evSecretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, word := range []string{"token", "secret", "password", "key", "auth"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}

// evMaskHeaders returns headers with the values of secret headers masked.
func evMaskHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return h
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if evSecretHeader(k) {
			v = evSecretMask
		}
		out[k] = v
	}
	return out
}

// evUnmaskHeaders puts back the stored value of each header sent back masked.
func evUnmaskHeaders(h, stored map[string]string) {
	for k, v := range h {
		if v != evSecretMask {
			continue
		}
		for sk, sv := range stored {
			if strings.EqualFold(sk, k) {
				h[k] = sv
			}
		}
	}
}

// evMaskURL hides the password of a URL's user information.
func evMaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		// URL.String would escape the asterisks; the placeholder cannot occur elsewhere as
		// ":x@", since an escaped user name holds neither ':' nor '@'.
		const placeholder = "MASKED"
		u.User = url.UserPassword(u.User.Username(), placeholder)
		return strings.Replace(u.String(), ":"+placeholder+"@", ":"+evSecretMask+"@", 1)
	}
	return raw
}
