package httpauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xgate/xgate/authn"
)

// seen is one request as the test server received it.
type seen struct {
	Method string
	Path   string // decoded
	RawURI string // as on the request line
	Query  string // raw
	Header http.Header
	Host   string
	Body   string
}

// answer is what the test server replies.
type answer struct {
	status      int
	contentType string
	location    string
	body        string
}

func jsonAnswer(body string) answer {
	return answer{status: http.StatusOK, contentType: "application/json", body: body}
}

// authServer is a loopback HTTP server that records requests and answers with reply.
type authServer struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	reply func(seen) answer
}

func newAuthServer(t *testing.T, reply func(seen) answer) *authServer {
	t.Helper()
	s := &authServer{reply: reply}
	s.Server = httptest.NewServer(s.handler())
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := seen{
			Method: r.Method, Path: r.URL.Path, RawURI: r.RequestURI, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Host: r.Host, Body: string(body),
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		a := s.reply(req)
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		if a.location != "" {
			w.Header().Set("Location", a.location)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	})
}

// requests returns the requests received so far.
func (s *authServer) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// only returns the single request received, failing otherwise.
func (s *authServer) only(t *testing.T) seen {
	t.Helper()
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// parseTestConfig parses raw JSON, failing the test on error.
func parseTestConfig(t *testing.T, raw string) Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(raw))
	if err != nil {
		t.Fatalf("ParseConfig(%s): %v", raw, err)
	}
	return cfg
}

// configFor is a valid authenticator config for url with the given extra fields.
func configFor(t *testing.T, url string, extra map[string]any) Config {
	t.Helper()
	m := map[string]any{"mechanism": "password_based", "backend": "http", "url": url}
	for k, v := range extra {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return parseTestConfig(t, string(raw))
}

// newTestAuthenticator builds an authenticator closed at the end of the test.
func newTestAuthenticator(t *testing.T, cfg Config, log *slog.Logger) *Authenticator {
	t.Helper()
	a, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// testClient is a client with every field placeholders read.
func testClient() *authn.Client {
	return &authn.Client{
		ClientID:       "dev 1/α",
		Username:       "alice&bob",
		Password:       []byte("p@ss word+/?#"),
		Peer:           netip.MustParseAddrPort("[::ffff:192.0.2.7]:5683"),
		Protocol:       "coap",
		Gateway:        "coap",
		Listener:       "coap:udp:default",
		Attrs:          map[string]string{"endpoint_name": "ep-1"},
		CertCommonName: "device-cn",
		CertSubject:    "CN=device-cn,O=xgate",
	}
}

func authenticate(t *testing.T, a *Authenticator, c *authn.Client) authn.Decision {
	t.Helper()
	d, err := a.Authenticate(context.Background(), c)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return d
}

// logBuffer is a debug-level logger whose output the test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testCA issues certificates for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xgate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate for the names (DNS names or IP addresses) and returns
// it with its PEM certificate and key.
func (ca *testCA) issue(t *testing.T, usage x509.ExtKeyUsage, names ...string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

// writeFile writes data to a file in the test's temporary directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
