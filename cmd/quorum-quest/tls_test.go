package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testpki"
)

// devServer starts `quorum-quest dev-server` with args and returns its
// address once it listens.
func (w *world) devServer(t *testing.T, args ...string) string {
	t.Helper()
	p := w.start("dev-server", nil, append([]string{"dev-server", "--addr", "127.0.0.1:0"}, args...)...)
	re := regexp.MustCompile(`listening on (\S+)`)
	var addr string
	eventually(t, 10*time.Second, "dev-server listening", func() bool {
		m := re.FindStringSubmatch(p.output())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// The command against the dev-server process with mutual TLS: with the CA
// and a client certificate it leads; without the CA, or without a client
// certificate, it exits 67 naming the error.
func TestLockMutualTLSAgainstDevServer(t *testing.T) {
	t.Parallel()
	pki := testpki.New(t)
	w := newWorld(t)
	addr := w.devServer(t, "--tls-cert", pki.ServerCertFile, "--tls-key", pki.ServerKeyFile, "--tls-client-ca", pki.CAFile)

	r1 := w.runner("r1", runnerOpts{addr: addr, flags: []string{
		"--tls-ca", pki.CAFile, "--tls-cert", pki.ClientCertFile, "--tls-key", pki.ClientKeyFile,
		"--tls-server-name", testpki.ServerName}})
	w.next("start", "r1", 10*time.Second)
	w.tell("r1", "exit 0")
	if code := r1.wait(t, 5*time.Second); code != 0 {
		t.Fatalf("runner over mutual TLS exited %d; want its child's 0", code)
	}

	const unreachable = time.Second
	for _, c := range []struct {
		name  string
		flags []string
		says  string
	}{
		{"without the CA", []string{"--tls", "--tls-cert", pki.ClientCertFile, "--tls-key", pki.ClientKeyFile},
			"x509: certificate signed by unknown authority"},
		{"without a client certificate", []string{"--tls-ca", pki.CAFile}, "Unavailable"},
	} {
		r := w.runner("bad", runnerOpts{addr: addr, flags: append(c.flags, "--unreachable", unreachable.String())})
		if code := r.wait(t, unreachable+testRetry+slack); code != exitUnreachable {
			t.Errorf("%s: exited %d; want %d", c.name, code, exitUnreachable)
		}
		if out := r.output(); !strings.Contains(out, "giving up") || !strings.Contains(out, c.says) {
			t.Errorf("%s: the runner's message does not say %q:\n%s", c.name, c.says, out)
		}
	}
}

// A TLS file that cannot be read is bad usage, said at once.
func TestLockTLSBadFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	empty := t.TempDir() + "/empty.pem"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{{"--tls-ca", "/nonexistent.pem"}, {"--tls-ca", empty}, {"--tls-cert", empty, "--tls-key", empty}} {
		r := w.runner("bad", runnerOpts{flags: flags})
		if code := r.wait(t, 5*time.Second); code != exitUsage {
			t.Errorf("%q: exit %d; want %d", flags, code, exitUsage)
		}
	}
}
