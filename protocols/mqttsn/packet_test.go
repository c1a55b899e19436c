package mqttsn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// codecCase is one datagram written out by hand from MQTT-SN 1.2 §5. Either want or
// err is set; canon is the re-encoding when it differs from the input (lenient forms).
type codecCase struct {
	name  string
	hex   string
	want  *Packet
	err   string // substring of the error reason
	canon string
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad test hex %q: %v", s, err)
	}
	return b
}

// bigPayload is 300 octets, as in the acceptance client: bytes 0..255 then 44 zeros.
var bigPayload = append(func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}(), make([]byte, 44)...)

var codecCases = []codecCase{
	// §5.4.1 ADVERTISE
	{name: "advertise gw 1 900s", hex: "05 00 01 0384", want: &Packet{Type: Advertise, GwID: 1, Duration: 900}},
	// §5.4.2 SEARCHGW
	{name: "searchgw radius 0", hex: "03 01 00", want: &Packet{Type: SearchGW}},
	{name: "searchgw radius 3", hex: "03 01 03", want: &Packet{Type: SearchGW, Radius: 3}},
	// §5.4.3 GWINFO
	{name: "gwinfo no address", hex: "03 02 01", want: &Packet{Type: GWInfo, GwID: 1}},
	{name: "gwinfo with address", hex: "07 02 05 c0a80001", want: &Packet{Type: GWInfo, GwID: 5, GwAddr: []byte{192, 168, 0, 1}}},
	// §5.4.4 CONNECT
	{name: "connect clean keepalive 60 c1", hex: "08 04 04 01 003c 6331",
		want: &Packet{Type: Connect, Flags: Flags{CleanSession: true}, ProtocolID: 1, Duration: 60, ClientID: "c1"}},
	{name: "connect will no clean empty clientid", hex: "06 04 08 01 0000",
		want: &Packet{Type: Connect, Flags: Flags{Will: true}, ProtocolID: 1}},
	{name: "connect protocol id kept raw", hex: "07 04 00 02 ffff 78",
		want: &Packet{Type: Connect, ProtocolID: 2, Duration: 0xFFFF, ClientID: "x"}},
	// §5.4.5 CONNACK, with EMQX's extended codes
	{name: "connack accepted", hex: "03 05 00", want: &Packet{Type: Connack}},
	{name: "connack congestion", hex: "03 05 01", want: &Packet{Type: Connack, ReturnCode: Congestion}},
	{name: "connack not authorized", hex: "03 05 80", want: &Packet{Type: Connack, ReturnCode: NotAuthorized}},
	// §5.4.6 WILLTOPICREQ
	{name: "willtopicreq", hex: "02 06", want: &Packet{Type: WillTopicReq}},
	// §5.4.7 WILLTOPIC
	{name: "willtopic qos 2 retain w/t", hex: "06 07 50 772f74",
		want: &Packet{Type: WillTopic, HasFlags: true, Flags: Flags{QoS: 2, Retain: true}, TopicName: "w/t"}},
	{name: "willtopic empty deletes will", hex: "02 07", want: &Packet{Type: WillTopic}},
	{name: "willtopic flags without topic", hex: "03 07 20",
		want: &Packet{Type: WillTopic, HasFlags: true, Flags: Flags{QoS: 1}}},
	// §5.4.8 WILLMSGREQ, §5.4.9 WILLMSG
	{name: "willmsgreq", hex: "02 08", want: &Packet{Type: WillMsgReq}},
	{name: "willmsg bye", hex: "05 09 627965", want: &Packet{Type: WillMsg, Data: []byte("bye")}},
	{name: "willmsg empty", hex: "02 09", want: &Packet{Type: WillMsg}},
	// §5.4.10 REGISTER, §5.4.11 REGACK
	{name: "register a/b", hex: "09 0a 0000 0001 612f62", want: &Packet{Type: Register, MsgID: 1, TopicName: "a/b"}},
	{name: "register from gateway", hex: "08 0a 0401 ffff 7878",
		want: &Packet{Type: Register, TopicID: 1025, MsgID: 0xFFFF, TopicName: "xx"}},
	{name: "regack 1025 accepted", hex: "07 0b 0401 0001 00", want: &Packet{Type: Regack, TopicID: 1025, MsgID: 1}},
	{name: "regack not supported", hex: "07 0b 0000 0002 03", want: &Packet{Type: Regack, MsgID: 2, ReturnCode: NotSupported}},
	// §5.4.12 PUBLISH
	{name: "publish qos 1 normal", hex: "09 0c 20 0401 0002 6869",
		want: &Packet{Type: Publish, Flags: Flags{QoS: 1}, TopicID: 1025, MsgID: 2, Data: []byte("hi")}},
	{name: "publish qos -1 short ab", hex: "08 0c 62 6162 0000 78",
		want: &Packet{Type: Publish, Flags: Flags{QoS: -1, TopicIDType: TopicShort}, TopicID: 0x6162, Data: []byte("x")}},
	{name: "publish qos 2 retain predefined empty", hex: "07 0c 51 0007 0009",
		want: &Packet{Type: Publish, Flags: Flags{QoS: 2, Retain: true, TopicIDType: TopicPredefined}, TopicID: 7, MsgID: 9}},
	{name: "publish dup qos 1", hex: "0a 0c a0 0401 0003 616263",
		want: &Packet{Type: Publish, Flags: Flags{DUP: true, QoS: 1}, TopicID: 1025, MsgID: 3, Data: []byte("abc")}},
	{name: "publish reserved topic id type decodes", hex: "07 0c 03 0001 0000",
		want: &Packet{Type: Publish, Flags: Flags{TopicIDType: 3}, TopicID: 1}},
	{name: "publish 300-byte payload 3-octet length", hex: "01 0135 0c 00 0401 0000" + hex.EncodeToString(bigPayload),
		want: &Packet{Type: Publish, TopicID: 1025, Data: bigPayload}},
	{name: "publish 255 octets 1-octet length", hex: "ff 0c 00 0001 0000" + strings.Repeat("00", 248),
		want: &Packet{Type: Publish, TopicID: 1, Data: make([]byte, 248)}},
	{name: "publish 258 octets 3-octet length", hex: "01 0102 0c 00 0001 0000" + strings.Repeat("00", 249),
		want: &Packet{Type: Publish, TopicID: 1, Data: make([]byte, 249)}},
	// §5.4.13 PUBACK
	{name: "puback accepted", hex: "07 0d 0401 0002 00", want: &Packet{Type: Puback, TopicID: 1025, MsgID: 2}},
	{name: "puback invalid topic id", hex: "07 0d 004d 0003 02", want: &Packet{Type: Puback, TopicID: 77, MsgID: 3, ReturnCode: InvalidTopicID}},
	// §5.4.14 PUBREC, PUBREL, PUBCOMP
	{name: "pubrec", hex: "04 0f 0003", want: &Packet{Type: Pubrec, MsgID: 3}},
	{name: "pubrel", hex: "04 10 0003", want: &Packet{Type: Pubrel, MsgID: 3}},
	{name: "pubcomp", hex: "04 0e 1234", want: &Packet{Type: Pubcomp, MsgID: 0x1234}},
	// §5.4.15 SUBSCRIBE, one per topic id type
	{name: "subscribe normal qos 1", hex: "08 12 20 0004 732f23",
		want: &Packet{Type: Subscribe, Flags: Flags{QoS: 1}, MsgID: 4, TopicName: "s/#"}},
	{name: "subscribe predefined", hex: "07 12 01 0006 0005",
		want: &Packet{Type: Subscribe, Flags: Flags{TopicIDType: TopicPredefined}, MsgID: 6, TopicID: 5}},
	{name: "subscribe short qos 2", hex: "07 12 42 0007 6162",
		want: &Packet{Type: Subscribe, Flags: Flags{QoS: 2, TopicIDType: TopicShort}, MsgID: 7, TopicName: "ab"}},
	{name: "subscribe reserved type kept raw", hex: "08 12 03 0008 78797a",
		want: &Packet{Type: Subscribe, Flags: Flags{TopicIDType: 3}, MsgID: 8, TopicName: "xyz"}},
	{name: "subscribe reserved type empty tail", hex: "05 12 03 0008",
		want: &Packet{Type: Subscribe, Flags: Flags{TopicIDType: 3}, MsgID: 8}},
	{name: "subscribe normal empty name", hex: "05 12 00 0009", want: &Packet{Type: Subscribe, MsgID: 9}},
	// §5.4.16 SUBACK
	{name: "suback qos 1 id 0", hex: "08 13 20 0000 0004 00", want: &Packet{Type: Suback, Flags: Flags{QoS: 1}, MsgID: 4}},
	{name: "suback not authorized", hex: "08 13 00 0401 0005 80",
		want: &Packet{Type: Suback, TopicID: 1025, MsgID: 5, ReturnCode: NotAuthorized}},
	// §5.4.17 UNSUBSCRIBE, §5.4.18 UNSUBACK
	{name: "unsubscribe normal", hex: "08 14 00 0005 732f23", want: &Packet{Type: Unsubscribe, MsgID: 5, TopicName: "s/#"}},
	{name: "unsubscribe predefined", hex: "07 14 01 0006 0005",
		want: &Packet{Type: Unsubscribe, Flags: Flags{TopicIDType: TopicPredefined}, MsgID: 6, TopicID: 5}},
	{name: "unsubscribe short", hex: "07 14 02 0007 6162",
		want: &Packet{Type: Unsubscribe, Flags: Flags{TopicIDType: TopicShort}, MsgID: 7, TopicName: "ab"}},
	{name: "unsuback", hex: "04 15 0005", want: &Packet{Type: Unsuback, MsgID: 5}},
	// §5.4.19 PINGREQ, §5.4.20 PINGRESP
	{name: "pingreq without clientid", hex: "02 16", want: &Packet{Type: Pingreq}},
	{name: "pingreq with clientid", hex: "04 16 6331", want: &Packet{Type: Pingreq, ClientID: "c1"}},
	{name: "pingresp", hex: "02 17", want: &Packet{Type: Pingresp}},
	// §5.4.21 DISCONNECT
	{name: "disconnect", hex: "02 18", want: &Packet{Type: Disconnect}},
	{name: "disconnect sleep 60s", hex: "04 18 003c", want: &Packet{Type: Disconnect, HasDuration: true, Duration: 60}},
	{name: "disconnect sleep 0s", hex: "04 18 0000", want: &Packet{Type: Disconnect, HasDuration: true}},
	// §5.4.22-25 will updates
	{name: "willtopicupd qos 0 retain w", hex: "04 1a 10 77",
		want: &Packet{Type: WillTopicUpd, HasFlags: true, Flags: Flags{Retain: true}, TopicName: "w"}},
	{name: "willtopicupd empty deletes will", hex: "02 1a", want: &Packet{Type: WillTopicUpd}},
	{name: "willmsgupd z", hex: "03 1c 7a", want: &Packet{Type: WillMsgUpd, Data: []byte("z")}},
	{name: "willtopicresp accepted", hex: "03 1b 00", want: &Packet{Type: WillTopicResp}},
	{name: "willmsgresp not supported", hex: "03 1d 03", want: &Packet{Type: WillMsgResp, ReturnCode: NotSupported}},

	// §5.2.1: the 3-octet form is accepted for short messages too, and re-encoded short.
	{name: "3-octet form for a small disconnect", hex: "01 0004 18", want: &Packet{Type: Disconnect}, canon: "02 18"},
	{name: "3-octet form for a small connack", hex: "01 0005 05 02", want: &Packet{Type: Connack, ReturnCode: InvalidTopicID}, canon: "03 05 02"},

	// Malformed datagrams.
	{name: "empty", hex: "", err: "short"},
	{name: "length 0 alone", hex: "00", err: "zero length"},
	{name: "length 0", hex: "00 00", err: "zero length"},
	{name: "3-octet length 0", hex: "01 0000", err: "zero length"},
	{name: "length larger than datagram", hex: "05 04", err: "length mismatch"},
	{name: "length smaller than datagram", hex: "03 05 00 00", err: "length mismatch"},
	{name: "length byte only", hex: "02", err: "length mismatch"},
	{name: "ff length short datagram", hex: "ff 0c", err: "length mismatch"},
	{name: "3-octet marker only", hex: "01", err: "short"},
	{name: "3-octet length truncated", hex: "01 00", err: "short"},
	{name: "3-octet length without type", hex: "01 0003", err: "short"},
	{name: "3-octet length mismatch", hex: "01 0010 0c 00", err: "length mismatch"},
	{name: "3-octet publish truncated", hex: "01 0135 0c 00 0401 0000 0001", err: "length mismatch"},
	{name: "unknown type 0x03", hex: "02 03", err: "unknown type 0x03"},
	{name: "unknown type 0x11", hex: "02 11", err: "unknown type 0x11"},
	{name: "unknown type 0x19", hex: "03 19 00", err: "unknown type 0x19"},
	{name: "unknown type 0x1e", hex: "02 1e", err: "unknown type 0x1e"},
	{name: "encapsulated 0xfe", hex: "05 fe 01 0102", err: "unknown type 0xfe"},
	{name: "unknown type 0xff", hex: "02 ff", err: "unknown type 0xff"},
	{name: "advertise truncated", hex: "04 00 01 03", err: "short"},
	{name: "advertise trailing", hex: "06 00 01 0384 00", err: "trailing"},
	{name: "searchgw without radius", hex: "02 01", err: "short"},
	{name: "searchgw trailing", hex: "04 01 00 00", err: "trailing"},
	{name: "gwinfo without gwid", hex: "02 02", err: "short"},
	{name: "connect truncated duration", hex: "05 04 04 01 00", err: "short"},
	{name: "connect only flags", hex: "03 04 04", err: "short"},
	{name: "connack without return code", hex: "02 05", err: "short"},
	{name: "connack trailing", hex: "04 05 00 00", err: "trailing"},
	{name: "willtopicreq trailing", hex: "03 06 00", err: "trailing"},
	{name: "willmsgreq trailing", hex: "03 08 00", err: "trailing"},
	{name: "register truncated", hex: "05 0a 0000 00", err: "short"},
	{name: "regack truncated", hex: "05 0b 0401 00", err: "short"},
	{name: "regack trailing", hex: "08 0b 0401 0001 00 00", err: "trailing"},
	{name: "publish truncated", hex: "06 0c 00 0001 00", err: "short"},
	{name: "puback truncated", hex: "06 0d 0401 0002", err: "short"},
	{name: "puback trailing", hex: "08 0d 0401 0002 00 00", err: "trailing"},
	{name: "pubrec trailing", hex: "05 0f 0003 00", err: "trailing"},
	{name: "pubcomp 3 body bytes", hex: "05 0e 0003 00", err: "trailing"},
	{name: "pubrel truncated", hex: "03 10 00", err: "short"},
	{name: "unsuback empty", hex: "02 15", err: "short"},
	{name: "subscribe truncated", hex: "04 12 00 00", err: "short"},
	{name: "subscribe predefined empty tail", hex: "05 12 01 0001", err: "topic id not 2 octets"},
	{name: "subscribe predefined 1-octet tail", hex: "06 12 01 0001 05", err: "topic id not 2 octets"},
	{name: "subscribe predefined 3-octet tail", hex: "08 12 01 0001 0005 00", err: "topic id not 2 octets"},
	{name: "subscribe short 1-octet tail", hex: "06 12 02 0001 61", err: "short topic name not 2 octets"},
	{name: "subscribe short 3-octet tail", hex: "08 12 02 0001 616263", err: "short topic name not 2 octets"},
	{name: "unsubscribe short 1-octet tail", hex: "06 14 02 0001 61", err: "short topic name not 2 octets"},
	{name: "unsubscribe predefined 1-octet tail", hex: "06 14 01 0001 05", err: "topic id not 2 octets"},
	{name: "suback truncated", hex: "07 13 00 0000 0000", err: "short"},
	{name: "suback trailing", hex: "09 13 00 0000 0000 00 00", err: "trailing"},
	{name: "pingresp trailing", hex: "03 17 00", err: "trailing"},
	{name: "disconnect 1-octet duration", hex: "03 18 00", err: "duration"},
	{name: "disconnect 3-octet duration", hex: "05 18 003c 00", err: "duration"},
	{name: "willtopicresp empty", hex: "02 1b", err: "short"},
	{name: "willmsgresp trailing", hex: "04 1d 00 00", err: "trailing"},
}

func TestDecodeCases(t *testing.T) {
	for _, c := range codecCases {
		t.Run(c.name, func(t *testing.T) {
			in := unhex(t, c.hex)
			got, err := Decode(in)
			if c.want == nil {
				if err == nil {
					t.Fatalf("Decode(% x) = %+v, want error %q", in, got, c.err)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %q, want it to contain %q", err, c.err)
				}
				if got != nil {
					t.Errorf("packet %+v returned with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(% x): %v", in, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Decode(% x)\n got %+v\nwant %+v", in, got, c.want)
			}
		})
	}
}

// Append(Decode(x)) == x for every valid case, and Append(want) == x.
func TestAppendCases(t *testing.T) {
	for _, c := range codecCases {
		if c.want == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, c.hex)
			if c.canon != "" {
				want = unhex(t, c.canon)
			}
			if got := Append(nil, c.want); !bytes.Equal(got, want) {
				t.Errorf("Append(want)\n got % x\nwant % x", got, want)
			}
			p, err := Decode(unhex(t, c.hex))
			if err != nil {
				t.Fatal(err)
			}
			if got := Append(nil, p); !bytes.Equal(got, want) {
				t.Errorf("Append(Decode(x))\n got % x\nwant % x", got, want)
			}
		})
	}
}

// Vectors copied as hex from the acceptance client's selftest (written from the spec
// independently of this file); if both sides agree on these, the gateway and the
// harness speak the same bytes.
func TestClientSelftestVectors(t *testing.T) {
	vectors := []struct {
		hex  string
		want *Packet
	}{
		{"0500010384", &Packet{Type: Advertise, GwID: 1, Duration: 900}},
		{"030201", &Packet{Type: GWInfo, GwID: 1}},
		{"08040401001e6331", &Packet{Type: Connect, Flags: Flags{CleanSession: true}, ProtocolID: 1, Duration: 30, ClientID: "c1"}},
		{"0a040c01003c636c2d39", &Packet{Type: Connect, Flags: Flags{Will: true, CleanSession: true}, ProtocolID: 1, Duration: 60, ClientID: "cl-9"}},
		{"060720772f74", &Packet{Type: WillTopic, HasFlags: true, Flags: Flags{QoS: 1}, TopicName: "w/t"}},
		{"0207", &Packet{Type: WillTopic}},
		{"070b0401000100", &Packet{Type: Regack, TopicID: 1025, MsgID: 1}},
		{"080c6261620000" + "78", &Packet{Type: Publish, Flags: Flags{QoS: -1, TopicIDType: TopicShort}, TopicID: 0x6162, Data: []byte("x")}},
		{"070c5100070009", &Packet{Type: Publish, Flags: Flags{QoS: 2, Retain: true, TopicIDType: TopicPredefined}, TopicID: 7, MsgID: 9}},
		{"010135" + "0c0004010000" + hex.EncodeToString(bigPayload), &Packet{Type: Publish, TopicID: 1025, Data: bigPayload}},
		{"071201000600" + "05", &Packet{Type: Subscribe, Flags: Flags{TopicIDType: TopicPredefined}, MsgID: 6, TopicID: 5}},
		{"0813200000000400", &Packet{Type: Suback, Flags: Flags{QoS: 1}, MsgID: 4}},
		{"04166331", &Packet{Type: Pingreq, ClientID: "c1"}},
		{"0418003c", &Packet{Type: Disconnect, HasDuration: true, Duration: 60}},
		{"041a1077", &Packet{Type: WillTopicUpd, HasFlags: true, Flags: Flags{Retain: true}, TopicName: "w"}},
	}
	for _, v := range vectors {
		in := unhex(t, v.hex)
		got, err := Decode(in)
		if err != nil || !reflect.DeepEqual(got, v.want) {
			t.Errorf("Decode(%.40s) = %+v, %v; want %+v", v.hex, got, err, v.want)
		}
		if enc := Append(nil, v.want); !bytes.Equal(enc, in) {
			t.Errorf("Append(%v)\n got %.80x\nwant %.80x", v.want.Type, enc, in)
		}
	}
	for _, bad := range []string{"", "0000", "0504", "03050000", "0100", "0100100c00", "0203", "0205", "050b040100", "050f000300", "031800"} {
		if p, err := Decode(unhex(t, bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%s) = %+v, %v; want ErrMalformed", bad, p, err)
		}
	}
}

func TestEveryTypeHasACase(t *testing.T) {
	seen := map[MsgType]bool{}
	for _, c := range codecCases {
		if c.want != nil {
			seen[c.want.Type] = true
		}
	}
	for i, name := range msgTypeNames {
		if name != "" && !seen[MsgType(i)] {
			t.Errorf("no valid case for %s", name)
		}
	}
}

// Decode(Append(p)) == p for constructed packets, including sizes at the length-form limits.
func TestAppendDecodeConstructed(t *testing.T) {
	long := strings.Repeat("c", 1000)
	packets := []*Packet{
		{Type: Advertise, GwID: 0xFF, Duration: 0xFFFF},
		{Type: SearchGW, Radius: 0xFF},
		{Type: GWInfo, GwID: 9, GwAddr: []byte{0, 0x22, 0xb0}},
		{Type: Connect, Flags: Flags{Will: true, CleanSession: true}, ProtocolID: 1, Duration: 30, ClientID: "client-1"},
		{Type: Connect, ProtocolID: 1, ClientID: long},
		{Type: Connack, ReturnCode: ReachedMaxRetry},
		{Type: WillTopicReq},
		{Type: WillTopic, HasFlags: true, Flags: Flags{QoS: 1, Retain: true}, TopicName: "last/will"},
		{Type: WillTopic},
		{Type: WillMsgReq},
		{Type: WillMsg, Data: []byte("gone")},
		{Type: WillMsg, Data: bytes.Repeat([]byte("w"), 5000)},
		{Type: Register, TopicID: 0xFFFF, MsgID: 0xFFFE, TopicName: "a/b/c"},
		{Type: Regack, TopicID: 1026, MsgID: 7, ReturnCode: Congestion},
		{Type: Publish, Flags: Flags{DUP: true, QoS: 2, Retain: true, TopicIDType: TopicNormal}, TopicID: 1025, MsgID: 1, Data: []byte{0, 1, 2}},
		{Type: Publish, Flags: Flags{QoS: -1, TopicIDType: TopicPredefined}, TopicID: 1024, Data: []byte("neg")},
		{Type: Publish, Flags: Flags{QoS: 1}, TopicID: 1, MsgID: 1, Data: make([]byte, 65535-9)}, // largest PUBLISH
		{Type: Puback, TopicID: 1, MsgID: 2, ReturnCode: NotAuthorized},
		{Type: Pubcomp, MsgID: 0xFFFF},
		{Type: Pubrec, MsgID: 1},
		{Type: Pubrel, MsgID: 2},
		{Type: Subscribe, Flags: Flags{DUP: true, QoS: 1}, MsgID: 3, TopicName: "a/+/#"},
		{Type: Subscribe, Flags: Flags{QoS: 2, TopicIDType: TopicPredefined}, MsgID: 3, TopicID: 0xBEEF},
		{Type: Subscribe, Flags: Flags{TopicIDType: TopicShort}, MsgID: 4, TopicName: "zz"},
		{Type: Suback, Flags: Flags{QoS: 2}, TopicID: 1025, MsgID: 5, ReturnCode: ExceededLimitation},
		{Type: Unsubscribe, Flags: Flags{TopicIDType: TopicPredefined}, MsgID: 6, TopicID: 1},
		{Type: Unsubscribe, MsgID: 6, TopicName: long},
		{Type: Unsuback, MsgID: 6},
		{Type: Pingreq, ClientID: "sleepy"},
		{Type: Pingreq},
		{Type: Pingresp},
		{Type: Disconnect},
		{Type: Disconnect, HasDuration: true, Duration: 3600},
		{Type: WillTopicUpd, HasFlags: true, Flags: Flags{QoS: 2}, TopicName: "t"},
		{Type: WillTopicUpd},
		{Type: WillTopicResp, ReturnCode: NotSupported},
		{Type: WillMsgUpd, Data: []byte("new")},
		{Type: WillMsgResp},
	}
	for _, p := range packets {
		enc := Append(nil, p)
		got, err := Decode(enc)
		if err != nil {
			t.Errorf("%v: Decode(Append(p)): %v", p.Type, err)
			continue
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%v: Decode(Append(p))\n got %+v\nwant %+v", p.Type, got, p)
		}
		// The 1-octet form is used exactly when the whole message fits in 255 octets.
		if short := len(enc) <= 255; short != (enc[0] != 0x01) {
			t.Errorf("%v: %d octets encoded with header % x", p.Type, len(enc), enc[:min(3, len(enc))])
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	p := &Packet{Type: Publish, Flags: Flags{QoS: 1}, TopicID: 1025, MsgID: 2, Data: []byte("hi")}
	dst := []byte("prefix")
	got := Append(dst, p)
	if want := append([]byte("prefix"), unhex(t, "09 0c 20 0401 0002 6869")...); !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	// Long form after a prefix too.
	p.Data = bigPayload
	got = Append([]byte("ab"), p)
	if string(got[:2]) != "ab" || !bytes.Equal(got[2:5], []byte{0x01, 0x01, 0x35}) {
		t.Fatalf("long form after prefix: % x", got[:12])
	}
}

func TestAppendTooLong(t *testing.T) {
	p := &Packet{Type: Publish, TopicID: 1, Data: make([]byte, 65535-9+1)}
	dst := []byte("keep")
	if got := Append(dst, p); string(got) != "keep" {
		t.Fatalf("oversize message: got %d octets, want dst unchanged", len(got))
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	for _, h := range []string{"07 02 05 c0a80001", "09 0c 20 0401 0002 6869", "05 09 627965", "05 1c 627965"} {
		in := unhex(t, h)
		p, err := Decode(in)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Decode(unhex(t, h))
		for i := range in {
			in[i] ^= 0xFF
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s: packet changed with its input: %+v", h, p)
		}
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		b byte
		f Flags
	}{
		{0x00, Flags{}},
		{0x04, Flags{CleanSession: true}},
		{0x08, Flags{Will: true}},
		{0x10, Flags{Retain: true}},
		{0x20, Flags{QoS: 1}},
		{0x40, Flags{QoS: 2}},
		{0x60, Flags{QoS: -1}},
		{0x80, Flags{DUP: true}},
		{0x01, Flags{TopicIDType: TopicPredefined}},
		{0x02, Flags{TopicIDType: TopicShort}},
		{0x03, Flags{TopicIDType: 3}},
		{0xFF, Flags{DUP: true, QoS: -1, Retain: true, Will: true, CleanSession: true, TopicIDType: 3}},
	}
	for _, c := range cases {
		if got := ParseFlags(c.b); got != c.f {
			t.Errorf("ParseFlags(%#02x) = %+v, want %+v", c.b, got, c.f)
		}
		if got := c.f.Byte(); got != c.b {
			t.Errorf("%+v.Byte() = %#02x, want %#02x", c.f, got, c.b)
		}
	}
	for i := range 256 {
		if got := ParseFlags(byte(i)).Byte(); got != byte(i) {
			t.Errorf("ParseFlags(%#02x).Byte() = %#02x", i, got)
		}
	}
}

func TestStrings(t *testing.T) {
	for typ, want := range map[MsgType]string{
		Connect: "CONNECT", Advertise: "ADVERTISE", WillMsgResp: "WILLMSGRESP", Pingreq: "PINGREQ",
		0x03: "UNKNOWN(0x03)", 0xFE: "UNKNOWN(0xfe)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("MsgType(%#02x).String() = %q, want %q", byte(typ), got, want)
		}
	}
	for rc, want := range map[ReturnCode]string{
		Accepted: "accepted", InvalidTopicID: "invalid topic id", NotAuthorized: "not authorized",
		ReachedMaxRetry: "reached max retry", 0x42: "return code 0x42",
	} {
		if got := rc.String(); got != want {
			t.Errorf("ReturnCode(%#02x).String() = %q, want %q", byte(rc), got, want)
		}
	}
	_, err := Decode([]byte{2, 0x11})
	if got := fmt.Sprint(err); got != "malformed mqtt-sn packet: unknown type 0x11" {
		t.Errorf("error text %q", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range codecCases {
		b, err := hex.DecodeString(strings.ReplaceAll(c.hex, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := bytes.Clone(in) // the engine's input must not be modified
		p, err := Decode(buf)
		if err != nil {
			if p != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(% x) = %+v, %v", in, p, err)
			}
			return
		}
		for i := range buf {
			buf[i] ^= 0xFF
		}
		again, err := Decode(in)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("decoded packet aliases its input:\n%+v\n%+v", p, again)
		}
		enc := Append(nil, p)
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Append(p)) of % x: %v (encoded % x)", in, err, enc)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip of % x\n got %+v\nwant %+v", in, back, p)
		}
		// Byte-exact unless the input used the 3-octet form for a message that fits in 255.
		want := in
		if in[0] == 0x01 && len(in)-2 <= 255 {
			want = append([]byte{byte(len(in) - 2)}, in[3:]...)
		}
		if !bytes.Equal(enc, want) {
			t.Fatalf("Append(Decode(x))\n got % x\nwant % x", enc, want)
		}
	})
}

func benchPublish() *Packet {
	return &Packet{Type: Publish, Flags: Flags{QoS: 1}, TopicID: 1025, MsgID: 42, Data: bytes.Repeat([]byte("x"), 64)}
}

func BenchmarkDecodePublish(b *testing.B) {
	wire := Append(nil, benchPublish())
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	p := benchPublish()
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = Append(dst[:0], p)
	}
	b.SetBytes(int64(len(dst)))
}
