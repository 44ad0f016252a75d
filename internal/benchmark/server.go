package benchmark

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/quorum-quest/client-go/qqtest"
)

// serverEnv, set in a child's environment, makes ServeIfChild turn that
// process into the benchmark server.
const serverEnv = "QUORUMQUEST_BENCH_SERVER"

// ServeIfChild makes this process the benchmark server when StartServer
// started it: it serves the in-memory server on a loopback port, prints the
// address, and exits when its standard input closes (the parent exited or
// stopped it). Otherwise it returns at once. Call it first in main or
// TestMain of any binary that calls StartServer or NewLoopback.
func ServeIfChild() {
	if os.Getenv(serverEnv) != "1" {
		return
	}
	srv := qqtest.NewUnstartedServer()
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
	os.Exit(0)
}

// StartServer runs this binary again as the in-memory server (see
// ServeIfChild) and returns its address. The server runs in its own
// process so that its CPU and allocations are not counted as the client's,
// as with a real server. stop ends it and waits for it to exit.
func StartServer() (addr string, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() {
		in.Close()
		cmd.Wait()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("bench server did not start: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}
