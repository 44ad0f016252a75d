package main

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// child is the command running under the lock, leader of a process group
// of its own (its pid is the group's id), so that signals reach whatever
// it started too.
type child struct {
	pid  int
	done chan exitStatus // receives once, when the child has been reaped
}

// exitStatus is how a child ended, as a shell reports it: its exit code,
// or 128+n when signal n killed it.
type exitStatus struct {
	code int
	err  error // a failed wait, not a failed command
}

// startChild starts argv with env, stdio passed through.
//
// The child gets SIGKILL when the runner dies (Linux's parent-death
// signal; see sysProcAttr), so that a runner killed with SIGKILL never
// leaves a leader-only process behind. That signal fires when the *thread*
// that forked the child exits, not the process: the goroutine that starts
// the child locks itself to its thread and stays on it, blocked in Wait,
// until the child has been reaped. Go never ends a thread under a locked
// goroutine that is still running.
func startChild(argv, env []string) (*child, error) {
	c := &child{done: make(chan exitStatus, 1)}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when this goroutine returns, the runtime ends
		// the thread, which is what we want once the child is reaped.
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = env
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		c.pid = cmd.Process.Pid
		started <- nil
		err := cmd.Wait()
		var st exitStatus
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.code = 128 + int(ws.Signal())
		} else if cmd.ProcessState != nil {
			st.code = cmd.ProcessState.ExitCode()
		}
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			st.err = err
		}
		c.done <- st
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// signal sends sig to the child's process group. Until the child is
// reaped the group exists (a zombie leader keeps it), so the group id
// cannot have been reused.
func (c *child) signal(sig syscall.Signal) error {
	err := syscall.Kill(-c.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // the group is already gone
	}
	return err
}

// startError is the exit code for a command that could not be started.
func startError(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotRun
}
