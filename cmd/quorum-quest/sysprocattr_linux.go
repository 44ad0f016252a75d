package main

import "syscall"

// sysProcAttr puts the child in a process group of its own and has the
// kernel SIGKILL it when the thread that started it dies (see startChild).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
