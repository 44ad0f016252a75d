// Package testpki makes a throwaway certificate authority for tests: a CA,
// a server certificate for loopback, and a client certificate for mutual
// TLS, as crypto values and as PEM files.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ServerName is the DNS name in the server certificate, besides the
// loopback addresses 127.0.0.1 and ::1.
const ServerName = "quorum-quest.test"

// PKI is one test's certificates. The files are in a directory the test
// removes when it ends.
type PKI struct {
	// CAPool trusts the CA; CAFile is its certificate as PEM.
	CAPool *x509.CertPool
	CAFile string
	// Server is valid for ServerName, 127.0.0.1 and ::1; Client for client
	// authentication. Each has its PEM files.
	Server, Client                tls.Certificate
	ServerCertFile, ServerKeyFile string
	ClientCertFile, ClientKeyFile string
}

// New generates a CA (ECDSA P-256) and a server and client certificate
// signed by it, valid for an hour.
func New(tb testing.TB) *PKI {
	tb.Helper()
	dir := tb.TempDir()
	caKey := newKey(tb)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "quorum-quest test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	p := &PKI{CAPool: x509.NewCertPool(), CAFile: filepath.Join(dir, "ca.pem")}
	p.CAPool.AddCert(caCert)
	writePEM(tb, p.CAFile, "CERTIFICATE", caDER)

	issue := func(serial int64, name string, usage x509.ExtKeyUsage, hosts bool) (tls.Certificate, string, string) {
		key := newKey(tb)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Minute),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if hosts {
			tmpl.DNSNames = []string{ServerName}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			tb.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			tb.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(tb, certFile, "CERTIFICATE", der)
		writePEM(tb, keyFile, "PRIVATE KEY", keyDER)
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			tb.Fatal(err)
		}
		return pair, certFile, keyFile
	}
	p.Server, p.ServerCertFile, p.ServerKeyFile = issue(2, "server", x509.ExtKeyUsageServerAuth, true)
	p.Client, p.ClientCertFile, p.ClientKeyFile = issue(3, "client", x509.ExtKeyUsageClientAuth, false)
	return p
}

// ServerConfig is the server's TLS configuration; with mutual, it requires
// a client certificate signed by the CA.
func (p *PKI) ServerConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{p.Server}}
	if mutual {
		cfg.ClientCAs, cfg.ClientAuth = p.CAPool, tls.RequireAndVerifyClientCert
	}
	return cfg
}

// ClientConfig trusts the CA and, with cert, presents the client
// certificate.
func (p *PKI) ClientConfig(cert bool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.CAPool}
	if cert {
		cfg.Certificates = []tls.Certificate{p.Client}
	}
	return cfg
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func writePEM(tb testing.TB, path, kind string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}
