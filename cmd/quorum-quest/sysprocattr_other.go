//go:build unix && !linux

package main

import "syscall"

// sysProcAttr puts the child in a process group of its own. Only Linux
// has a parent-death signal: elsewhere a runner killed with SIGKILL leaves
// its child running (docs/command.md).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
