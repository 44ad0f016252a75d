package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// tlsFlags are the client's TLS flags. Any of them turns TLS on; without
// them the connection is plaintext, as the server's default is.
type tlsFlags struct {
	enable     bool
	ca         string
	cert, key  string
	serverName string
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.enable, "tls", false, "connect with TLS, verifying the server against the system's roots (implied by the other --tls-* flags)")
	fs.StringVar(&t.ca, "tls-ca", "", "PEM `file` of the CA certificates that verify the server, instead of the system's roots")
	fs.StringVar(&t.cert, "tls-cert", "", "PEM `file` of the client certificate, for mutual TLS (with --tls-key)")
	fs.StringVar(&t.key, "tls-key", "", "PEM `file` of the client certificate's private key (with --tls-cert)")
	fs.StringVar(&t.serverName, "tls-server-name", "", "`name` to verify the server's certificate against (default: the host of --addr)")
}

func (t *tlsFlags) on() bool {
	return t.enable || t.ca != "" || t.cert != "" || t.key != "" || t.serverName != ""
}

func (t *tlsFlags) validate() error {
	if (t.cert == "") != (t.key == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	return nil
}

// dialOptions returns the connection's credentials: none (the library's
// plaintext default) unless TLS is on. Unreadable or malformed files are
// usage errors.
func (t *tlsFlags) dialOptions() ([]grpc.DialOption, error) {
	if !t.on() {
		return nil, nil
	}
	cfg, err := t.config()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, nil
}

func (t *tlsFlags) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.serverName}
	if t.ca != "" {
		pem, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s", t.ca)
		}
		cfg.RootCAs = pool
	}
	if t.cert != "" {
		pair, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
