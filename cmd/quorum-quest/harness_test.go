package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// The timing every process test uses: short enough for make test, long
// enough that process start-up (tens of milliseconds) is small beside it.
const (
	testTTL   = 2 * time.Second
	testRetry = 200 * time.Millisecond
	testGrace = 300 * time.Millisecond
	// slack covers starting a process, the child's start-up and loopback
	// round trips on a loaded 2-core machine.
	slack = 700 * time.Millisecond
)

const (
	testService = "nightly"
	testDomain  = "test"
)

// world is one lock's test set-up: an in-process server on loopback, the
// children's control listener and their shared port.
type world struct {
	t       *testing.T
	srv     *qqtest.Server
	addr    string // the server's
	ctl     net.Listener
	port    int // the port every child binds
	events  chan event
	done    chan struct{} // closed when the test ends
	mu      sync.Mutex
	conns   map[string]net.Conn // each child's control connection, by client ID
	serving sync.WaitGroup
}

// event is something a child did, as the control listener saw it.
type event struct {
	kind string // start, death, taken, signal
	id   string // the child's runner's client ID
	at   time.Time
	text string // the whole line (start, signal)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, srv: qqtest.NewServer(t), events: make(chan event, 256), done: make(chan struct{}), conns: map[string]net.Conn{}}
	w.addr = w.srv.Addr()
	var err error
	if w.ctl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	w.port = freePort(t)
	w.serving.Add(1)
	go w.accept()
	t.Cleanup(func() {
		close(w.done)
		w.ctl.Close()
		w.mu.Lock()
		for _, c := range w.conns {
			c.Close()
		}
		w.mu.Unlock()
		w.serving.Wait()
	})
	return w
}

// freePort returns a loopback port that nothing listens on now, chosen
// below Linux's ephemeral range (32768 and up by default): a port from that
// range may be taken at any moment by the source side of some outgoing
// loopback connection, which a child would then report as an overlap that
// never happened.
func freePort(t *testing.T) int {
	t.Helper()
	const lo, hi = 20000, 32768
	start := lo + rand.IntN(hi-lo)
	for i := range hi - lo {
		port := lo + (start-lo+i)%(hi-lo)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatalf("no free loopback port in [%d, %d)", lo, hi)
	return 0
}

func (w *world) accept() {
	defer w.serving.Done()
	for {
		c, err := w.ctl.Accept()
		if err != nil {
			return
		}
		w.serving.Add(1)
		go w.serve(c)
	}
}

// serve reads one child's reports; the end of its connection is its death.
func (w *world) serve(c net.Conn) {
	defer w.serving.Done()
	defer c.Close()
	id := "?"
	in := bufio.NewScanner(c)
	for in.Scan() {
		at := time.Now()
		f := strings.Fields(in.Text())
		if len(f) < 2 {
			continue
		}
		if f[0] == "start" || f[0] == "taken" {
			id = f[1]
			w.mu.Lock()
			w.conns[id] = c
			w.mu.Unlock()
		}
		w.report(event{kind: f[0], id: f[1], at: at, text: in.Text()})
	}
	w.report(event{kind: "death", id: id, at: time.Now()})
}

func (w *world) report(e event) {
	select {
	case w.events <- e:
	case <-w.done:
	}
}

// next returns the next event of kind (of id, unless id is empty) within
// d. Any "taken" event fails the test: two children overlapped.
func (w *world) next(kind, id string, d time.Duration) event {
	w.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case e := <-w.events:
			w.t.Logf("child event: %s %s at %s", e.kind, e.id, e.at.Format("15:04:05.000"))
			w.checkOverlap(e)
			if e.kind == kind && (id == "" || e.id == id) {
				return e
			}
		case <-deadline.C:
			w.t.Fatalf("no %s event of child %q within %v", kind, id, d)
		}
	}
}

// checkOverlap fails the test on a "taken" event (two children ran at
// once) or a "badslot" one (a child outside the semaphore's slots).
func (w *world) checkOverlap(e event) {
	w.t.Helper()
	switch e.kind {
	case "taken":
		w.t.Fatalf("OVERLAP: child of %s found the children's port taken: two children ran at once", e.id)
	case "badslot":
		w.t.Fatalf("child of %s got a slot outside the semaphore: %s", e.id, e.text)
	}
}

// tell sends a line to the child of id.
func (w *world) tell(id, line string) {
	w.t.Helper()
	w.mu.Lock()
	c := w.conns[id]
	w.mu.Unlock()
	if c == nil {
		w.t.Fatalf("no child of %s", id)
	}
	if _, err := fmt.Fprintln(c, line); err != nil {
		w.t.Fatal(err)
	}
}

// tenure returns the server's last tenure of id.
func (w *world) tenure(id string) qqtest.Tenure {
	w.t.Helper()
	var last *qqtest.Tenure
	for _, tn := range w.srv.History() {
		if tn.ClientID == id {
			last = &tn
		}
	}
	if last == nil {
		w.t.Fatalf("the server never granted the lock to %s", id)
	}
	return *last
}

// proc is one runner process.
type proc struct {
	id     string
	cmd    *exec.Cmd
	out    string        // the file its output goes to
	exited chan struct{} // closed once it has been reaped
	code   int           // its exit code, once exited
	start  time.Time
	// stderr, with runnerOpts.stderrPipe, is the read end of the pipe its
	// standard error goes to, copied into out until closed.
	stderr *os.File
}

// runnerOpts are a runner's settings beyond the world's.
type runnerOpts struct {
	addr  string   // default the world's server
	env   []string // added to the child's environment (through the runner's)
	flags []string // added after the defaults, before "--"
	// stderrPipe sends the runner's standard error through a pipe that
	// the test can close (proc.stderr), as a log reader that died would.
	stderrPipe bool
}

// runner starts `quorum-quest lock` with client ID id, running the tests'
// child program (testdata/child) as its command.
func (w *world) runner(id string, o runnerOpts) *proc {
	w.t.Helper()
	if o.addr == "" {
		o.addr = w.addr
	}
	_, child := binaries(w.t)
	args := []string{"lock", "--addr", o.addr, "--id", id, "--service", testService, "--domain", testDomain,
		"--ttl", testTTL.String(), "--retry", testRetry.String(), "--grace", testGrace.String()}
	args = append(append(args, o.flags...), "--", child)
	return w.startProc(id, o.env, o.stderrPipe, args...)
}

// start runs the command with args, its output to a file that the test
// logs at its end.
func (w *world) start(id string, env []string, args ...string) *proc {
	w.t.Helper()
	return w.startProc(id, env, false, args...)
}

func (w *world) startProc(id string, env []string, stderrPipe bool, args ...string) *proc {
	w.t.Helper()
	p := &proc{id: id, exited: make(chan struct{}), out: filepath.Join(w.t.TempDir(), id+".out")}
	f, err := os.Create(p.out)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	command, _ := binaries(w.t)
	p.cmd = exec.Command(command, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if stderrPipe {
		r, wr, err := os.Pipe()
		if err != nil {
			w.t.Fatal(err)
		}
		defer wr.Close() // the runner's copy is its own
		p.stderr, p.cmd.Stderr = r, wr
		log, err := os.OpenFile(p.out, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			w.t.Fatal(err)
		}
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			defer log.Close()
			_, _ = io.Copy(log, r) // until the pipe is closed, at either end
		}()
		w.t.Cleanup(func() {
			r.Close()
			<-copied
		})
	}
	p.cmd.Env = append(os.Environ(), "QQT_CONTROL="+w.ctl.Addr().String(), "QQT_PORT="+strconv.Itoa(w.port))
	p.cmd.Env = append(p.cmd.Env, env...)
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		defer close(p.exited)
		err := p.cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			p.code = exitErr.ExitCode()
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = 128 + int(ws.Signal())
			}
		default:
			p.code = -1
		}
	}()
	w.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		out, _ := os.ReadFile(p.out)
		w.t.Logf("output of %s:\n%s", id, out)
	})
	return p
}

// wait returns p's exit code, failing the test if it runs longer than d.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(d):
		t.Fatalf("%s still runs after %v", p.id, d)
		return 0
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return at
}

// output is what p printed so far.
func (p *proc) output() string {
	out, _ := os.ReadFile(p.out)
	return string(out)
}

// proxy is a TCP proxy between one runner and the server that the test can
// make silent: from then on it swallows every byte both ways and forwards
// nothing, without closing anything, as a network that drops packets does.
// The client's calls then hang until their deadlines: the hardest cut.
type proxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	silent bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.lis.Addr().String() }

// silence makes the proxy drop everything from now on.
func (p *proxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent = true
}

func (p *proxy) isSilent() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.silent
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *proxy) pipe(from, to net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 && !p.isSilent() {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !p.isSilent() {
				to.Close() // pass the close on, unless the network is down
			}
			return
		}
	}
}

func (p *proxy) close() {
	p.lis.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
