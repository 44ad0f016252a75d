package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// line is one line a process printed, stamped when it was read.
type line struct {
	from, text string
	at         time.Time
}

// start runs bin with args and forwards its output lines, tagged with
// name, to lines.
func start(t *testing.T, name string, lines chan<- line, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- line{name, s.Text(), time.Now()}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func build(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// await returns the next line that satisfies match, failing after within.
func await(t *testing.T, lines <-chan line, within time.Duration, what string, match func(line) bool) line {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-lines:
			t.Logf("%s: %s", l.from, l.text)
			if match(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, within)
		}
	}
}

// Separate processes over loopback TCP, as a user would run them: kill -9
// the leader, and another leads within TTL + retry interval; stop that one
// gracefully, and another leads within the retry interval.
func TestFailoverAndHandoverAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes for several seconds")
	}
	const ttl, retry = 2 * time.Second, 200 * time.Millisecond
	const slack = 500 * time.Millisecond // process scheduling and output pipes
	server, worker := build(t, "../../cmd/quorum-quest", "quorum-quest"), build(t, ".", "leader-work")
	lines := make(chan line, 1024)
	srv := start(t, "server", lines, server, "dev-server", "--addr", "127.0.0.1:0")
	ready := await(t, lines, 10*time.Second, "server address", func(l line) bool { return strings.HasPrefix(l.text, "listening on ") })
	addr := strings.TrimPrefix(ready.text, "listening on ")

	workers := map[string]*exec.Cmd{}
	for _, id := range []string{"w1", "w2", "w3"} {
		workers[id] = start(t, id, lines, worker, "-addr", addr, "-id", id, "-ttl", ttl.String(), "-retry", retry.String())
	}
	leading := func(l line) bool { return strings.HasSuffix(l.text, l.from+": leading") }
	first := await(t, lines, 10*time.Second, "first leader", leading)

	killed := time.Now()
	if err := workers[first.from].Process.Kill(); err != nil { // SIGKILL: no release
		t.Fatal(err)
	}
	workers[first.from].Wait()
	second := await(t, lines, ttl+retry+slack, "leader after kill -9", leading)
	failover := second.at.Sub(killed)
	t.Logf("failover after kill -9: %v (TTL %v, retry %v)", failover, ttl, retry)
	if second.from == first.from {
		t.Fatal("the killed process leads again")
	}

	stopped := time.Now()
	if err := workers[second.from].Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	third := await(t, lines, retry+slack, "leader after graceful stop", leading)
	handover := third.at.Sub(stopped)
	t.Logf("handover after SIGTERM: %v (retry %v)", handover, retry)
	if third.from == second.from || third.from == first.from {
		t.Fatalf("%s leads after the handover", third.from)
	}
	if err := workers[second.from].Wait(); err != nil {
		t.Fatalf("gracefully stopped worker exited with %v", err)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
}
