package mqtt

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/xgate/xgate/gateway"
)

// Publish hands a message to the broker as its inline client: it bypasses authorization, is
// delivered to matching subscribers at up to m.QoS, and is retained if m.Retain (an empty
// retained payload clears the topic's retained message). ContentType and Headers travel as
// MQTT 5 properties. Inline subscribers are called before Publish returns and get m.Payload
// itself, so the caller must not modify it afterwards.
func (b *Broker) Publish(m gateway.Message) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if m.QoS > 2 {
		return fmt.Errorf("publish %s: %w %d", m.Topic, ErrInvalidQoS, m.QoS)
	}
	if len(m.Topic)+len(m.Payload) > maxPacketSize {
		return fmt.Errorf("publish %s: %w", m.Topic, ErrPacketTooLarge)
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     m.Payload,
	}
	if m.QoS > 0 {
		// mochi validates that a QoS 1/2 publish has a packet id, but does not track the
		// inline client's, so any non-zero id does.
		pk.PacketID = 1
	}
	pk.Properties.ContentType = m.ContentType
	pk.Properties.MessageExpiryInterval = m.Expiry
	if len(m.Headers) > 0 {
		pk.Properties.User = make([]packets.UserProperty, len(m.Headers))
		for i, h := range m.Headers {
			pk.Properties.User[i] = packets.UserProperty{Key: h.Key, Val: h.Value}
		}
	}
	if err := b.srv.InjectPacket(b.inline, pk); err != nil {
		return fmt.Errorf("publish %s: %w", m.Topic, err)
	}
	return nil
}

// Subscribe calls deliver for every message published on a topic matching filter, with the
// QoS lowered to qos. deliver runs on the publisher's goroutine and must not block; it gets
// the broker's copy of the payload, which it must not modify. Retained messages matching filter
// are delivered before Subscribe returns, on the caller's goroutine, with Retain set; live
// messages carry the retain flag as published.
//
// A $share/group/filter subscription joins the group shared with MQTT clients: each message
// goes to one member of the group. Shared subscriptions get no retained messages.
//
// cancel removes exactly this subscription and may be called any number of times.
func (b *Broker) Subscribe(filter string, qos byte, deliver func(gateway.Message)) (cancel func(), err error) {
	switch {
	case b.closed.Load():
		return nil, ErrClosed
	case deliver == nil:
		return nil, fmt.Errorf("subscribe %s: nil deliver func", filter)
	case qos > 2:
		return nil, fmt.Errorf("subscribe %s: %w %d", filter, ErrInvalidQoS, qos)
	case !mochi.IsValidFilter(filter, false):
		return nil, fmt.Errorf("subscribe %s: %w", filter, ErrInvalidFilter)
	case mochi.IsSharedFilter(filter):
		return b.subscribeShared(filter, qos, deliver), nil
	}

	fn := func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		if excluded(filter, pk.TopicName) {
			return // mochi delivers $SYS to an inline "#"
		}
		deliver(toMessage(pk, qos))
	}
	ids := []int{int(b.nextID.Add(1))}
	filters := []string{filter}
	if parent, ok := strings.CutSuffix(filter, "/#"); ok {
		// "a/b/#" also matches "a/b" [MQTT-4.7.1-2], which mochi 2.7.9 does for network
		// subscriptions but not for inline ones; the parent filter covers exactly that topic.
		ids = append(ids, int(b.nextID.Add(1)))
		filters = append(filters, parent)
	}
	for i := range ids {
		if err := b.srv.Subscribe(filters[i], ids[i], fn); err != nil {
			for j := range i {
				_ = b.srv.Unsubscribe(filters[j], ids[j])
			}
			return nil, fmt.Errorf("subscribe %s: %w", filter, err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for i := range ids {
				_ = b.srv.Unsubscribe(filters[i], ids[i])
			}
		})
	}, nil
}

// subscribeShared adds an inline member to a shared subscription group; see
// hook.OnSelectSubscribers.
func (b *Broker) subscribeShared(filter string, qos byte, deliver func(gateway.Message)) func() {
	id := b.nextID.Add(1)
	member := sharedMemberPrefix + strconv.FormatInt(id, 10)
	b.hook.shared.Store(member, &sharedMember{qos: qos, deliver: deliver})
	b.srv.Topics.Subscribe(member, packets.Subscription{Filter: filter, Qos: qos, Identifier: int(id)})
	var once sync.Once
	return func() {
		once.Do(func() {
			b.srv.Topics.Unsubscribe(filter, member)
			b.hook.shared.Delete(member)
		})
	}
}

// toMessage converts a mochi publish for a subscription of the given QoS. The payload is not
// copied: mochi decodes every inbound packet into a fresh buffer and never reuses it.
func toMessage(pk packets.Packet, qos byte) gateway.Message {
	m := gateway.Message{
		Topic:       pk.TopicName,
		Payload:     pk.Payload,
		QoS:         min(pk.FixedHeader.Qos, qos),
		Retain:      pk.FixedHeader.Retain,
		ContentType: pk.Properties.ContentType,
	}
	if n := len(pk.Properties.User); n > 0 {
		m.Headers = make([]gateway.Header, n)
		for i, u := range pk.Properties.User {
			m.Headers[i] = gateway.Header{Key: u.Key, Value: u.Val}
		}
	}
	return m
}
