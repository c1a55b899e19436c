package httpauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/xgate/xgate/authn"
)

// newTLSAuthServer is an authServer over TLS with the given server configuration; it
// records the server name each client sent.
func newTLSAuthServer(t *testing.T, cfg *tls.Config, reply func(seen) answer) (*authServer, chan string) {
	t.Helper()
	sni := make(chan string, 16)
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sni <- hello.ServerName
		return nil, nil
	}
	s := &authServer{reply: reply}
	s.Server = httptest.NewUnstartedServer(s.handler())
	s.TLS = cfg
	s.StartTLS()
	t.Cleanup(s.Close)
	return s, sni
}

func allow(seen) answer { return answer{status: http.StatusNoContent} }

// withHost returns u with its host name replaced, keeping the port.
func withHost(t *testing.T, raw, host string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host + ":" + u.Port()
	return u.String()
}

func TestTLSWithHTTPTestServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	caFile := writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	otherCA := writeFile(t, "other.pem", newTestCA(t).pem)

	tests := []struct {
		name string
		ssl  map[string]any
		want authn.Decision
	}{
		{name: "verify_peer with the server's CA", ssl: map[string]any{"verify": "verify_peer", "cacertfile": caFile}, want: authn.Allow},
		{name: "verify_peer with system roots", ssl: map[string]any{"verify": "verify_peer"}, want: authn.Ignore},
		{name: "verify_peer with another CA", ssl: map[string]any{"verify": "verify_peer", "cacertfile": otherCA}, want: authn.Ignore},
		{name: "verify_none", ssl: map[string]any{"verify": "verify_none"}, want: authn.Allow},
		{name: "verify defaults to none", ssl: map[string]any{}, want: authn.Allow},
		{name: "server name the certificate lacks", ssl: map[string]any{"verify": "verify_peer", "cacertfile": caFile, "server_name_indication": "auth.internal"}, want: authn.Ignore},
		{name: "server name the certificate has", ssl: map[string]any{"verify": "verify_peer", "cacertfile": caFile, "server_name_indication": "example.com"}, want: authn.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ssl["enable"] = true
			a := newTestAuthenticator(t, configFor(t, srv.URL+"/auth", map[string]any{"ssl": tt.ssl}), nil)
			if got := authenticate(t, a, testClient()); got != tt.want {
				t.Errorf("decision = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTLSClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	serverCert, _, _ := ca.issue(t, x509.ExtKeyUsageServerAuth, "127.0.0.1")
	_, clientPEM, clientKey := ca.issue(t, x509.ExtKeyUsageClientAuth, "gateway-1")
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	clientCN := make(chan string, 16)
	srv, _ := newTLSAuthServer(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				clientCN <- cs.PeerCertificates[0].Subject.CommonName
			}
			return nil
		},
	}, allow)
	caFile := writeFile(t, "ca.pem", ca.pem)

	withCert := newTestAuthenticator(t, configFor(t, srv.URL, map[string]any{"ssl": map[string]any{
		"enable": true, "verify": "verify_peer", "cacertfile": caFile,
		"certfile": writeFile(t, "client.pem", clientPEM), "keyfile": writeFile(t, "client.key", clientKey),
	}}), nil)
	if got := authenticate(t, withCert, testClient()); got != authn.Allow {
		t.Errorf("with a client certificate: %v", got)
	}
	select {
	case cn := <-clientCN:
		if cn != "gateway-1" {
			t.Errorf("server saw client CN %q", cn)
		}
	default:
		t.Error("server saw no client certificate")
	}

	without := newTestAuthenticator(t, configFor(t, srv.URL, map[string]any{"ssl": map[string]any{
		"enable": true, "verify": "verify_peer", "cacertfile": caFile,
	}}), nil)
	if got := authenticate(t, without, testClient()); got != authn.Ignore {
		t.Errorf("without a client certificate: %v", got)
	}
}

func TestTLSServerNameIndication(t *testing.T) {
	ca := newTestCA(t)
	caFile := writeFile(t, "ca.pem", ca.pem)
	localhost, _, _ := ca.issue(t, x509.ExtKeyUsageServerAuth, "localhost")
	internal, _, _ := ca.issue(t, x509.ExtKeyUsageServerAuth, "auth.internal")

	tests := []struct {
		name     string
		cert     tls.Certificate
		host     string
		sni      string
		want     authn.Decision
		wantSent string
	}{
		{name: "default sends the URL host", cert: localhost, host: "localhost", want: authn.Allow, wantSent: "localhost"},
		{name: "configured name is sent and checked", cert: internal, host: "127.0.0.1", sni: "auth.internal", want: authn.Allow, wantSent: "auth.internal"},
		{name: "disable sends none but still checks the host", cert: localhost, host: "localhost", sni: "disable", want: authn.Allow, wantSent: ""},
		{name: "disable with a certificate for another host", cert: internal, host: "localhost", sni: "disable", want: authn.Ignore, wantSent: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, sent := newTLSAuthServer(t, &tls.Config{Certificates: []tls.Certificate{tt.cert}}, allow)
			ssl := map[string]any{"enable": true, "verify": "verify_peer", "cacertfile": caFile}
			if tt.sni != "" {
				ssl["server_name_indication"] = tt.sni
			}
			a := newTestAuthenticator(t, configFor(t, withHost(t, srv.URL, tt.host)+"/auth", map[string]any{"ssl": ssl}), nil)
			p := a.Probe(t.Context(), testClient())
			if p.Decision != tt.want {
				t.Errorf("decision = %v (%s), want %v", p.Decision, p.Err, tt.want)
			}
			if tt.want == authn.Ignore && !strings.Contains(p.Err, "certificate") {
				t.Errorf("error = %q, want a certificate error", p.Err)
			}
			select {
			case got := <-sent:
				if got != tt.wantSent {
					t.Errorf("server name sent = %q, want %q", got, tt.wantSent)
				}
			default:
				t.Error("no TLS handshake reached the server")
			}
		})
	}
}
