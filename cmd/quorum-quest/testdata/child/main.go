// Command child is the leader-only process of the quorum-quest command's
// process tests. It is a program of its own, built by the tests without
// the race detector, so that it starts and dies as fast as a small real
// program: a race-instrumented binary takes far longer for the kernel to
// tear down on a loaded machine, which the tests would count against the
// runner.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

func main() { os.Exit(childMain()) }

// childMain connects to the test's control address first, then binds the one
// loopback port all children share: if the port is taken, another child is
// alive, which is the overlap the runner must never allow, and it says so
// loudly and exits 99. Its control connection comes first so that it has
// the lower descriptor: when the child dies, the kernel closes it before
// the port, so the test sees the death (end of file on the connection)
// before any other child can bind.
//
// With QQT_SLOT_PORTS (a comma-separated list, one port per slot of a
// semaphore) it binds the port of its QUORUM_QUEST_SLOT instead.
//
// It reports "start <client id> <pid> <service> <domain> <slot>", then obeys
// "exit N" lines from the test and reports the signals SIGHUP, SIGUSR1 and
// SIGUSR2. With QQT_IGNORE_TERM set it ignores SIGTERM, so only SIGKILL
// stops it.
func childMain() int {
	ctl, err := net.Dial("tcp", os.Getenv("QQT_CONTROL"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: control: %v\n", err)
		return 98
	}
	id := os.Getenv("QUORUM_QUEST_CLIENT_ID")
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(ctl, format+"\n", args...)
	}
	if os.Getenv("QQT_IGNORE_TERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	port := os.Getenv("QQT_PORT")
	slot := os.Getenv("QUORUM_QUEST_SLOT")
	if ports := os.Getenv("QQT_SLOT_PORTS"); ports != "" {
		// A semaphore's child binds its slot's port: two children of one
		// slot alive at once collide as above, and a slot outside the
		// semaphore has no port.
		list := strings.Split(ports, ",")
		n, err := strconv.Atoi(slot)
		if err != nil || n < 0 || n >= len(list) {
			fmt.Fprintf(os.Stderr, "CHILD BAD SLOT: %s got QUORUM_QUEST_SLOT=%q, want 0 to %d\n", id, slot, len(list)-1)
			say("badslot %s %q", id, slot)
			return 99
		}
		port = list[n]
	}
	lis, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "CHILD OVERLAP: %s cannot bind the children's port: %v\n", id, err)
		say("taken %s", id)
		return 99
	}
	defer lis.Close()
	say("start %s %d %s %s %s", id, os.Getpid(), os.Getenv("QUORUM_QUEST_SERVICE"), os.Getenv("QUORUM_QUEST_DOMAIN"), slot)
	go func() {
		for s := range sigs {
			say("signal %s %s", id, s.(syscall.Signal).String())
		}
	}()
	in := bufio.NewScanner(ctl)
	for in.Scan() {
		if code, ok := strings.CutPrefix(in.Text(), "exit "); ok {
			n, _ := strconv.Atoi(code)
			os.Exit(n)
		}
	}
	// The test closed the connection: it is done with this child.
	return 0
}
