package mqttsn

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MsgType is the MsgType octet. MQTT-SN 1.2 §5.2.2, table 3.
type MsgType byte

const (
	Advertise     MsgType = 0x00
	SearchGW      MsgType = 0x01
	GWInfo        MsgType = 0x02
	Connect       MsgType = 0x04
	Connack       MsgType = 0x05
	WillTopicReq  MsgType = 0x06
	WillTopic     MsgType = 0x07
	WillMsgReq    MsgType = 0x08
	WillMsg       MsgType = 0x09
	Register      MsgType = 0x0A
	Regack        MsgType = 0x0B
	Publish       MsgType = 0x0C
	Puback        MsgType = 0x0D
	Pubcomp       MsgType = 0x0E
	Pubrec        MsgType = 0x0F
	Pubrel        MsgType = 0x10
	Subscribe     MsgType = 0x12
	Suback        MsgType = 0x13
	Unsubscribe   MsgType = 0x14
	Unsuback      MsgType = 0x15
	Pingreq       MsgType = 0x16
	Pingresp      MsgType = 0x17
	Disconnect    MsgType = 0x18
	WillTopicUpd  MsgType = 0x1A
	WillTopicResp MsgType = 0x1B
	WillMsgUpd    MsgType = 0x1C
	WillMsgResp   MsgType = 0x1D
)

var msgTypeNames = [...]string{
	Advertise:     "ADVERTISE",
	SearchGW:      "SEARCHGW",
	GWInfo:        "GWINFO",
	Connect:       "CONNECT",
	Connack:       "CONNACK",
	WillTopicReq:  "WILLTOPICREQ",
	WillTopic:     "WILLTOPIC",
	WillMsgReq:    "WILLMSGREQ",
	WillMsg:       "WILLMSG",
	Register:      "REGISTER",
	Regack:        "REGACK",
	Publish:       "PUBLISH",
	Puback:        "PUBACK",
	Pubcomp:       "PUBCOMP",
	Pubrec:        "PUBREC",
	Pubrel:        "PUBREL",
	Subscribe:     "SUBSCRIBE",
	Suback:        "SUBACK",
	Unsubscribe:   "UNSUBSCRIBE",
	Unsuback:      "UNSUBACK",
	Pingreq:       "PINGREQ",
	Pingresp:      "PINGRESP",
	Disconnect:    "DISCONNECT",
	WillTopicUpd:  "WILLTOPICUPD",
	WillTopicResp: "WILLTOPICRESP",
	WillMsgUpd:    "WILLMSGUPD",
	WillMsgResp:   "WILLMSGRESP",
}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) && msgTypeNames[t] != "" {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("UNKNOWN(0x%02x)", byte(t))
}

// Topic id types (flags bits 1-0). MQTT-SN 1.2 §5.3.4; 3 is reserved.
const (
	TopicNormal     = 0
	TopicPredefined = 1
	TopicShort      = 2
)

// ReturnCode is the ReturnCode octet (MQTT-SN 1.2 §5.3.10) with EMQX's 0x80+ extensions.
type ReturnCode byte

const (
	Accepted           ReturnCode = 0x00
	Congestion         ReturnCode = 0x01
	InvalidTopicID     ReturnCode = 0x02
	NotSupported       ReturnCode = 0x03
	NotAuthorized      ReturnCode = 0x80
	FailedSession      ReturnCode = 0x81
	KeepaliveTimeout   ReturnCode = 0x82
	ExceededLimitation ReturnCode = 0x83
	ReachedMaxRetry    ReturnCode = 0x84
)

func (c ReturnCode) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case Congestion:
		return "congestion"
	case InvalidTopicID:
		return "invalid topic id"
	case NotSupported:
		return "not supported"
	case NotAuthorized:
		return "not authorized"
	case FailedSession:
		return "failed session"
	case KeepaliveTimeout:
		return "keepalive timeout"
	case ExceededLimitation:
		return "exceeded limitation"
	case ReachedMaxRetry:
		return "reached max retry"
	}
	return fmt.Sprintf("return code 0x%02x", byte(c))
}

// Flags is the decoded flags octet. MQTT-SN 1.2 §5.3.4:
// DUP(7) QoS(6-5) Retain(4) Will(3) CleanSession(2) TopicIdType(1-0).
type Flags struct {
	DUP          bool
	QoS          int8 // -1, 0, 1, 2 (wire 0b11 is -1)
	Retain       bool
	Will         bool
	CleanSession bool
	TopicIDType  byte // 0..3
}

// Byte encodes f. Only the low two bits of QoS and TopicIDType are used, so QoS -1
// (0xFF as a byte) becomes 0b11.
func (f Flags) Byte() byte {
	b := (byte(f.QoS)&3)<<5 | f.TopicIDType&3
	if f.DUP {
		b |= 0x80
	}
	if f.Retain {
		b |= 0x10
	}
	if f.Will {
		b |= 0x08
	}
	if f.CleanSession {
		b |= 0x04
	}
	return b
}

// ParseFlags decodes a flags octet; every octet is valid.
func ParseFlags(b byte) Flags {
	qos := int8(b>>5) & 3
	if qos == 3 {
		qos = -1
	}
	return Flags{
		DUP:          b&0x80 != 0,
		QoS:          qos,
		Retain:       b&0x10 != 0,
		Will:         b&0x08 != 0,
		CleanSession: b&0x04 != 0,
		TopicIDType:  b & 3,
	}
}

// Packet is any MQTT-SN message; only the fields of its Type are meaningful.
// Decode leaves the others zero, and empty Data/GwAddr are nil.
type Packet struct {
	Type        MsgType
	Flags       Flags      // CONNECT, WILLTOPIC, WILLTOPICUPD, PUBLISH, SUBSCRIBE, SUBACK, UNSUBSCRIBE
	HasFlags    bool       // WILLTOPIC/WILLTOPICUPD: false for the empty form (no flags, no topic) that deletes the will
	GwID        byte       // ADVERTISE, GWINFO
	Duration    uint16     // ADVERTISE, CONNECT; DISCONNECT when HasDuration
	HasDuration bool       // DISCONNECT
	Radius      byte       // SEARCHGW
	GwAddr      []byte     // GWINFO
	ProtocolID  byte       // CONNECT
	ClientID    string     // CONNECT; PINGREQ (optional, empty = none)
	ReturnCode  ReturnCode // CONNACK, REGACK, PUBACK, SUBACK, WILLTOPICRESP, WILLMSGRESP
	TopicID     uint16     // REGISTER, REGACK, PUBLISH, PUBACK, SUBACK; SUBSCRIBE/UNSUBSCRIBE for predefined type
	MsgID       uint16     // REGISTER, REGACK, PUBLISH, PUBACK, PUBCOMP, PUBREC, PUBREL, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
	TopicName   string     // REGISTER; SUBSCRIBE/UNSUBSCRIBE for normal and short types (short: the 2 bytes); WILLTOPIC/WILLTOPICUPD
	Data        []byte     // PUBLISH payload; WILLMSG/WILLMSGUPD message
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed mqtt-sn packet")

// snCodecError carries the reason; it is a string type so constant reasons cost no allocation.
type snCodecError string

func (e snCodecError) Error() string { return ErrMalformed.Error() + ": " + string(e) }
func (e snCodecError) Unwrap() error { return ErrMalformed }

const (
	errSnShort     = snCodecError("short")
	errSnLength    = snCodecError("length mismatch")
	errSnZeroLen   = snCodecError("zero length")
	errSnTrailing  = snCodecError("trailing bytes")
	errSnTopicID   = snCodecError("topic id not 2 octets")
	errSnShortName = snCodecError("short topic name not 2 octets")
	errSnDuration  = snCodecError("duration not 2 octets")
)

// snMaxLen is the largest message the 2-octet length can describe. MQTT-SN 1.2 §5.2.1
const snMaxLen = 0xFFFF

// Decode parses one datagram holding exactly one message. The result does not alias b.
func Decode(b []byte) (*Packet, error) {
	// MQTT-SN 1.2 §5.2.1: 0x01 announces the 3-octet form; the length counts itself.
	if len(b) == 0 {
		return nil, errSnShort
	}
	n, hdr := int(b[0]), 1
	if b[0] == 0x01 {
		if len(b) < 3 {
			return nil, errSnShort
		}
		n, hdr = int(binary.BigEndian.Uint16(b[1:3])), 3
	}
	switch {
	case n == 0:
		return nil, errSnZeroLen
	case n != len(b):
		return nil, errSnLength
	case n <= hdr:
		return nil, errSnShort // no MsgType
	}
	p := &Packet{Type: MsgType(b[hdr])}
	body := b[hdr+1:]
	if err := p.decodeBody(body); err != nil {
		return nil, err
	}
	return p, nil
}

// snExact checks a fixed-size body.
func snExact(body []byte, n int) error {
	switch {
	case len(body) < n:
		return errSnShort
	case len(body) > n:
		return errSnTrailing
	}
	return nil
}

func snAtLeast(body []byte, n int) error {
	if len(body) < n {
		return errSnShort
	}
	return nil
}

// snClone copies b so a Packet never aliases the datagram buffer; empty is nil.
func snClone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func snU16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// decodeBody fills p from the octets after MsgType. Field layouts: MQTT-SN 1.2 §5.4.
func (p *Packet) decodeBody(body []byte) error {
	switch p.Type {
	case Advertise: // §5.4.1
		if err := snExact(body, 3); err != nil {
			return err
		}
		p.GwID, p.Duration = body[0], snU16(body[1:])
	case SearchGW: // §5.4.2
		if err := snExact(body, 1); err != nil {
			return err
		}
		p.Radius = body[0]
	case GWInfo: // §5.4.3: GwAdd is only present when a client answers
		if err := snAtLeast(body, 1); err != nil {
			return err
		}
		p.GwID, p.GwAddr = body[0], snClone(body[1:])
	case Connect: // §5.4.4
		if err := snAtLeast(body, 4); err != nil {
			return err
		}
		p.Flags = ParseFlags(body[0])
		p.ProtocolID = body[1]
		p.Duration = snU16(body[2:])
		p.ClientID = string(body[4:])
	case Connack, WillTopicResp, WillMsgResp: // §5.4.5, §5.4.24, §5.4.25
		if err := snExact(body, 1); err != nil {
			return err
		}
		p.ReturnCode = ReturnCode(body[0])
	case WillTopicReq, WillMsgReq, Pingresp: // §5.4.6, §5.4.8, §5.4.20
		return snExact(body, 0)
	case WillTopic, WillTopicUpd: // §5.4.7, §5.4.22: no octets at all deletes the will
		if len(body) > 0 {
			p.HasFlags = true
			p.Flags = ParseFlags(body[0])
			p.TopicName = string(body[1:])
		}
	case WillMsg, WillMsgUpd: // §5.4.9, §5.4.23
		p.Data = snClone(body)
	case Register: // §5.4.10
		if err := snAtLeast(body, 4); err != nil {
			return err
		}
		p.TopicID, p.MsgID = snU16(body), snU16(body[2:])
		p.TopicName = string(body[4:])
	case Regack, Puback: // §5.4.11, §5.4.13
		if err := snExact(body, 5); err != nil {
			return err
		}
		p.TopicID, p.MsgID = snU16(body), snU16(body[2:])
		p.ReturnCode = ReturnCode(body[4])
	case Publish: // §5.4.12
		if err := snAtLeast(body, 5); err != nil {
			return err
		}
		p.Flags = ParseFlags(body[0])
		p.TopicID, p.MsgID = snU16(body[1:]), snU16(body[3:])
		p.Data = snClone(body[5:])
	case Pubcomp, Pubrec, Pubrel, Unsuback: // §5.4.14, §5.4.18
		if err := snExact(body, 2); err != nil {
			return err
		}
		p.MsgID = snU16(body)
	case Subscribe, Unsubscribe: // §5.4.15, §5.4.17
		if err := snAtLeast(body, 3); err != nil {
			return err
		}
		p.Flags = ParseFlags(body[0])
		p.MsgID = snU16(body[1:])
		tail := body[3:]
		switch p.Flags.TopicIDType {
		case TopicPredefined:
			if len(tail) != 2 {
				return errSnTopicID
			}
			p.TopicID = snU16(tail)
		case TopicShort:
			if len(tail) != 2 {
				return errSnShortName
			}
			p.TopicName = string(tail)
		default:
			// Normal, and reserved type 3 kept raw: the session answers 3 with rc 0x03.
			p.TopicName = string(tail)
		}
	case Suback: // §5.4.16
		if err := snExact(body, 6); err != nil {
			return err
		}
		p.Flags = ParseFlags(body[0])
		p.TopicID, p.MsgID = snU16(body[1:]), snU16(body[3:])
		p.ReturnCode = ReturnCode(body[5])
	case Pingreq: // §5.4.19: ClientId only from a sleeping client
		p.ClientID = string(body)
	case Disconnect: // §5.4.21: Duration only when going to sleep
		switch len(body) {
		case 0:
		case 2:
			p.HasDuration, p.Duration = true, snU16(body)
		default:
			return errSnDuration
		}
	default: // includes 0xFE Encapsulated (§5.5), which the gateway does not forward
		return snCodecError(fmt.Sprintf("unknown type 0x%02x", byte(p.Type)))
	}
	return nil
}

// Append encodes p onto dst using the 1-octet length form when the whole message fits in
// 255 octets, else 0x01 + 2-octet length (MQTT-SN 1.2 §5.2.1).
//
// A message longer than 65535 octets cannot be encoded: Append then returns dst
// unchanged, so the caller can detect it by comparing lengths. An unknown Type is
// encoded as a bare header. SUBSCRIBE/UNSUBSCRIBE with TopicShort write TopicName as is;
// the caller must give exactly 2 octets.
func Append(dst []byte, p *Packet) []byte {
	start := len(dst)
	// Reserve the 3-octet header, then move the body back if the short form fits.
	dst = append(dst, 0x01, 0, 0, byte(p.Type))
	dst = p.appendBody(dst)
	total := len(dst) - start
	switch {
	case total-2 <= 0xFF:
		copy(dst[start+1:], dst[start+3:])
		dst = dst[:len(dst)-2]
		dst[start] = byte(total - 2)
	case total <= snMaxLen:
		binary.BigEndian.PutUint16(dst[start+1:], uint16(total))
	default:
		return dst[:start]
	}
	return dst
}

func (p *Packet) appendBody(dst []byte) []byte {
	be := binary.BigEndian
	switch p.Type {
	case Advertise:
		dst = be.AppendUint16(append(dst, p.GwID), p.Duration)
	case SearchGW:
		dst = append(dst, p.Radius)
	case GWInfo:
		dst = append(append(dst, p.GwID), p.GwAddr...)
	case Connect:
		dst = append(dst, p.Flags.Byte(), p.ProtocolID)
		dst = append(be.AppendUint16(dst, p.Duration), p.ClientID...)
	case Connack, WillTopicResp, WillMsgResp:
		dst = append(dst, byte(p.ReturnCode))
	case WillTopic, WillTopicUpd:
		if p.HasFlags {
			dst = append(append(dst, p.Flags.Byte()), p.TopicName...)
		}
	case WillMsg, WillMsgUpd:
		dst = append(dst, p.Data...)
	case Register:
		dst = be.AppendUint16(be.AppendUint16(dst, p.TopicID), p.MsgID)
		dst = append(dst, p.TopicName...)
	case Regack, Puback:
		dst = be.AppendUint16(be.AppendUint16(dst, p.TopicID), p.MsgID)
		dst = append(dst, byte(p.ReturnCode))
	case Publish:
		dst = be.AppendUint16(be.AppendUint16(append(dst, p.Flags.Byte()), p.TopicID), p.MsgID)
		dst = append(dst, p.Data...)
	case Pubcomp, Pubrec, Pubrel, Unsuback:
		dst = be.AppendUint16(dst, p.MsgID)
	case Subscribe, Unsubscribe:
		dst = be.AppendUint16(append(dst, p.Flags.Byte()), p.MsgID)
		if p.Flags.TopicIDType == TopicPredefined {
			dst = be.AppendUint16(dst, p.TopicID)
		} else {
			dst = append(dst, p.TopicName...)
		}
	case Suback:
		dst = be.AppendUint16(be.AppendUint16(append(dst, p.Flags.Byte()), p.TopicID), p.MsgID)
		dst = append(dst, byte(p.ReturnCode))
	case Pingreq:
		dst = append(dst, p.ClientID...)
	case Disconnect:
		if p.HasDuration {
			dst = be.AppendUint16(dst, p.Duration)
		}
	}
	return dst
}
