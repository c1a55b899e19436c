package httpauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// clientTLS is the TLS configuration built from SSL, files loaded.
type clientTLS struct {
	config *tls.Config
	// noSNI asks for a dialer that sends no server name; net/http would otherwise put
	// the URL's host in it.
	noSNI bool
}

// loadTLS reads the files named in s. host is the URL's host name, which the server
// certificate is checked against when SNI is disabled.
func loadTLS(s SSL, host string) (clientTLS, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CACertFile != "" {
		data, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return clientTLS{}, fmt.Errorf("ssl.cacertfile: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return clientTLS{}, fmt.Errorf("ssl.cacertfile: no PEM certificate in %s", s.CACertFile)
		}
		cfg.RootCAs = roots
	}
	if s.CertFile != "" {
		cert, err := loadKeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return clientTLS{}, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	skipVerify := s.Verify != verifyPeer // EMQX's default is verify_none
	switch s.ServerNameIndication {
	case "":
	case sniDisable:
		// Go sends the server name it verifies against, so with no name the chain and
		// host are checked by hand.
		cfg.InsecureSkipVerify = true
		if !skipVerify {
			cfg.VerifyConnection = verifyChain(cfg.RootCAs, host)
		}
		return clientTLS{config: cfg, noSNI: true}, nil
	default:
		cfg.ServerName = s.ServerNameIndication
	}
	cfg.InsecureSkipVerify = skipVerify
	return clientTLS{config: cfg}, nil
}

func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl.certfile: %w", err)
	}
	if block, _ := pem.Decode(certPEM); block == nil {
		return tls.Certificate{}, fmt.Errorf("ssl.certfile: no PEM data in %s", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl.keyfile: %w", err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil {
		return tls.Certificate{}, fmt.Errorf("ssl.keyfile: no PEM data in %s", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ssl.keyfile: %w", err)
	}
	return cert, nil
}

// verifyChain checks the server's chain against roots (the system's when nil) and its
// certificate against host.
func verifyChain(roots *x509.CertPool, host string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, DNSName: host,
		})
		return err
	}
}
