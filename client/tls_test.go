package client_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testpki"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// TLS end to end over loopback, through WithDialOptions: server-only TLS,
// mutual TLS, and the clear errors of a client that lacks the CA or its
// certificate.
func TestTLSWithDialOptions(t *testing.T) {
	pki := testpki.New(t)
	tlsAddr := qqtest.NewServer(t, qqtest.WithGRPCServerOptions(grpc.Creds(credentials.NewTLS(pki.ServerConfig(false))))).Addr()
	mtlsAddr := qqtest.NewServer(t, qqtest.WithGRPCServerOptions(grpc.Creds(credentials.NewTLS(pki.ServerConfig(true))))).Addr()
	withoutCA := &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots
	for _, c := range []struct {
		name, addr string
		cfg        *tls.Config
		fails      bool
		says       string // what the error must say
	}{
		{"tls", tlsAddr, pki.ClientConfig(false), false, ""},
		{"mutual tls", mtlsAddr, pki.ClientConfig(true), false, ""},
		{"no CA", tlsAddr, withoutCA, true, "x509: certificate signed by unknown authority"},
		// With TLS 1.3 the client learns of the rejection only as the
		// server closes the connection: the message varies (certificate
		// required, broken pipe, EOF).
		{"mutual tls without a client certificate", mtlsAddr, pki.ClientConfig(false), true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := client.NewQuorumQuestClient(service, domain, ttl, c.addr,
				client.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(c.cfg))))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			ok, err := q.TryAcquireLock(bg)
			if !c.fails {
				if !ok || err != nil {
					t.Fatalf("TryAcquireLock = %v, %v; want true, nil", ok, err)
				}
				return
			}
			if ok || status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("TryAcquireLock = %v, %v; want false and an Unavailable error saying %q", ok, err, c.says)
			}
			t.Logf("error, as the caller sees it: %v", err)
		})
	}
}
