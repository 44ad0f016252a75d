package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// replica is the parent's handle on one replica process.
type replica struct {
	id      string
	cmd     *exec.Cmd
	in      io.WriteCloser
	answers chan []string // "S", "M" and "ready" lines, split in fields
	exited  chan struct{} // closed when its standard output ended
}

// startReplica runs this binary in replica mode and waits until it is
// ready; every lead it reports goes to rec.
func startReplica(id, addr string, c config, rec *recorder) (*replica, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-mode", "replica", "-id", id, "-addr", addr,
		"-shards", strconv.Itoa(c.shards), "-ttl", c.ttl.String())
	if c.heapProfile != "" {
		cmd.Args = append(cmd.Args, "-heapprofile", c.heapProfile)
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &replica{id: id, cmd: cmd, in: in, answers: make(chan []string, 4), exited: make(chan struct{})}
	go r.read(out, rec)
	if _, err := r.await("ready"); err != nil {
		r.kill()
		return nil, err
	}
	return r, nil
}

func (r *replica) read(out io.Reader, rec *recorder) {
	defer close(r.exited)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "L", "E":
			if len(f) != 3 {
				continue
			}
			i, _ := strconv.Atoi(f[1])
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			rec.event(r.id, i, f[0] == "L", time.Unix(0, ns))
		default:
			r.answers <- f
		}
	}
}

// await returns the next answer, which must be of kind.
func (r *replica) await(kind string) ([]string, error) {
	select {
	case f := <-r.answers:
		if f[0] != kind {
			return nil, fmt.Errorf("replica %s: answered %q, expected %s", r.id, f, kind)
		}
		return f, nil
	case <-r.exited:
		return nil, fmt.Errorf("replica %s exited", r.id)
	case <-time.After(time.Minute):
		return nil, fmt.Errorf("replica %s: no %s answer within a minute", r.id, kind)
	}
}

// ask sends cmd and returns the answer's numbers.
func (r *replica) ask(cmd, kind string) ([]int64, error) {
	if _, err := fmt.Fprintln(r.in, cmd); err != nil {
		return nil, err
	}
	f, err := r.await(kind)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(f)-1)
	for i, s := range f[1:] {
		if out[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, fmt.Errorf("replica %s: bad answer %q", r.id, f)
		}
	}
	return out, nil
}

func (r *replica) run() error {
	_, err := fmt.Fprintln(r.in, "run")
	return err
}

// stat is the replica's CPU time so far and how many shards it believes it
// owns.
func (r *replica) stat() (cpu time.Duration, owned int, err error) {
	v, err := r.ask("stat", "S")
	if err != nil {
		return 0, 0, err
	}
	return time.Duration(v[0]), int(v[1]), nil
}

// memory is what a replica holds after two garbage collections.
type memory struct {
	heap, stacks, rss int64
	goroutines, owned int
}

func (r *replica) memory() (memory, error) {
	v, err := r.ask("mem", "M")
	if err != nil {
		return memory{}, err
	}
	return memory{heap: v[0], stacks: v[1], rss: v[2], goroutines: int(v[3]), owned: int(v[4])}, nil
}

// stop closes the replica's set (every shard released) and waits for it.
func (r *replica) stop() error {
	r.in.Close()
	<-r.exited
	return r.cmd.Wait()
}

// kill ends the replica with SIGKILL and returns when it is dead.
func (r *replica) kill() time.Time {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	return time.Now()
}

// runChild runs this binary in a baseline mode and returns its answer line
// split in fields.
func runChild(mode, addr string, c config) ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-mode", mode, "-addr", addr, "-shards", strconv.Itoa(c.shards),
		"-ttl", c.ttl.String(), "-window", c.window.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s baseline: %w", mode, err)
	}
	return strings.Fields(string(out)), nil
}
