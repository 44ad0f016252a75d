package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// runDevServer is `quorum-quest dev-server`: the in-memory server as a
// process, until SIGINT or SIGTERM.
func runDevServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: quorum-quest dev-server [--addr host:port] [flags]

Serves the in-memory Quorum Quest server: the real server's wire semantics,
locks kept in memory only. For trying the lock command and for local
development, not for production. Prints "listening on ADDR" once ready.

`)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:5050", "`host:port` to listen on (port 0 picks a free one)")
	defaultTTL := fs.Duration("default-ttl", qqtest.DefaultTTL, "lease used when a request's ttl is 0 or less")
	cert := fs.String("tls-cert", "", "PEM `file` of the server certificate: serve TLS (with --tls-key)")
	key := fs.String("tls-key", "", "PEM `file` of the server certificate's private key")
	clientCA := fs.String("tls-client-ca", "", "PEM `file` of CAs that client certificates must chain to: require mutual TLS")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "quorum-quest dev-server: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if *addr == "" { // net.Listen would take every interface and any port
		fmt.Fprintln(stderr, "quorum-quest dev-server: --addr is empty")
		return exitUsage
	}
	if *defaultTTL <= 0 {
		fmt.Fprintf(stderr, "quorum-quest dev-server: --default-ttl %v is not positive\n", *defaultTTL)
		return exitUsage
	}
	opts, err := serverTLS(*cert, *key, *clientCA)
	if err != nil {
		fmt.Fprintf(stderr, "quorum-quest dev-server: %v\n", err)
		return exitUsage
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "quorum-quest dev-server: %v\n", err)
		return exitUsage
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	srv := qqtest.NewUnstartedServer(qqtest.WithDefaultTTL(*defaultTTL), qqtest.WithGRPCServerOptions(opts...))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Fprintf(stdout, "listening on %s\n", lis.Addr())
	select {
	case <-sigs:
		srv.Close()
		err = <-served
	case err = <-served:
	}
	if err != nil {
		fmt.Fprintf(stderr, "quorum-quest dev-server: %v\n", err)
		return 1
	}
	return 0
}

// serverTLS returns the server's credentials from the dev-server's flags.
func serverTLS(cert, key, clientCA string) ([]grpc.ServerOption, error) {
	if cert == "" && key == "" && clientCA == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, errors.New("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca: no PEM certificate in %s", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(cfg))}, nil
}
