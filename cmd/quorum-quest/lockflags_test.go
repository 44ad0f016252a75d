package main

import (
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseLockDefaults(t *testing.T) {
	c, err := parseLock([]string{"--addr", "h:1", "--", "cmd", "-x", "--y"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.command, " "); got != "cmd -x --y" {
		t.Errorf("command %q; want everything after --", got)
	}
	want := lockConfig{ttl: 15 * time.Second, grace: 3 * time.Second, retry: 1500 * time.Millisecond,
		requestTimeout: 5 * time.Second, unreachable: 45 * time.Second, service: "quorum-quest", domain: "default"}
	if c.ttl != want.ttl || c.grace != want.grace || c.retry != want.retry || c.requestTimeout != want.requestTimeout ||
		c.unreachable != want.unreachable || c.service != want.service || c.domain != want.domain {
		t.Errorf("defaults %+v; want %+v", *c, want)
	}
	c, err = parseLock([]string{"--addr", "h:1", "--ttl", "2s", "--", "cmd"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.grace != 400*time.Millisecond || c.requestTimeout != 2*time.Second/3 {
		t.Errorf("TTL 2s: grace %v, request timeout %v; want TTL/5 and TTL/3", c.grace, c.requestTimeout)
	}
}

// The longest grace is the documented 0.59×TTL − 0.45s, and every TTL's
// default grace fits in it.
func TestMaxGrace(t *testing.T) {
	for _, c := range []struct {
		ttl, want time.Duration
	}{{time.Second, 140 * time.Millisecond}, {2 * time.Second, 730 * time.Millisecond}, {15 * time.Second, 8400 * time.Millisecond}} {
		cfg, err := parseLock([]string{"--addr", "h:1", "--ttl", c.ttl.String(), "--", "cmd"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got := maxGrace(cfg.timing, defaultReapAllowance); (got - c.want).Abs() > time.Millisecond {
			t.Errorf("maxGrace(%v) = %v; want %v", c.ttl, got, c.want)
		}
	}
	for ttl := time.Second; ttl <= time.Hour; ttl += 997 * time.Millisecond {
		if _, err := parseLock([]string{"--addr", "h:1", "--ttl", ttl.String(), "--", "cmd"}, io.Discard); err != nil {
			t.Fatalf("default grace at TTL %v: %v", ttl, err)
		}
	}
}

func TestParseLockRejects(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--", "cmd"}, "--addr is required"},
		{[]string{"--addr", "h:1"}, "no command"},
		{[]string{"--addr", "h:1", "--", ""}, "empty"},
		{[]string{"--addr", "h:1", "--service", "", "--", "cmd"}, "--service is empty"},
		{[]string{"--addr", "h:1", "--domain", "", "--", "cmd"}, "--domain is empty"},
		{[]string{"--addr", "h:1", "--ttl", "500ms", "--", "cmd"}, "below 1s"},
		{[]string{"--addr", "h:1", "--timeout", "-1s", "--", "cmd"}, "negative"},
		{[]string{"--addr", "h:1", "--grace", "-1s", "--", "cmd"}, "negative"},
		{[]string{"--addr", "h:1", "--retry", "-1s", "--", "cmd"}, "negative"},
		{[]string{"--addr", "h:1", "--ttl", "2s", "--grace", "731ms", "--", "cmd"}, "too long for --ttl 2s"},
		{[]string{"--addr", "h:1", "--grace", "10s", "--", "cmd"}, "the longest grace for this TTL is 8.4s"},
		{[]string{"--addr", "h:1", "--tls-cert", "c.pem", "--", "cmd"}, "go together"},
		{[]string{"--addr", "h:1", "--reap-allowance", "0s", "--", "cmd"}, "not positive"},
		{[]string{"--addr", "h:1", "--ttl", "1s", "--reap-allowance", "400ms", "--", "cmd"}, "leaves no time"},
		{[]string{"--addr", "h:1", "--ttl", "2s", "--reap-allowance", "500ms", "--grace", "481ms", "--", "cmd"}, "the longest grace for this TTL is 480ms"},
		{[]string{"--addr", "h:1", "--no-such-flag", "--", "cmd"}, "not defined"},
		{[]string{"--addr", "h:1", "--ttl", "soon", "--", "cmd"}, "invalid value"},
		{[]string{"--addr", "h:1", "--ttl", "1000000h", "--", "cmd"}, "--ttl 1000000h0m0s is above"},
		{[]string{"--addr", "127.0.0.1", "--", "cmd"}, "missing port"},
		{[]string{"--addr", "[::1", "--", "cmd"}, "want host:port"},
		{[]string{"--addr", "h:0", "--", "cmd"}, "not a number from 1 to 65535"},
		{[]string{"--addr", "h:https", "--", "cmd"}, "not a number from 1 to 65535"},
		{[]string{"--addr", "http://127.0.0.1:41243", "--", "cmd"}, "want host:port"},
		{[]string{"--addr", "a/b:1", "--", "cmd"}, "want host:port: host"},
		{[]string{"--addr", "h:1", "-n", "0", "--", "cmd"}, "-n 0 is below 1"},
		{[]string{"--addr", "h:1", "-n", "-2", "--", "cmd"}, "-n -2 is below 1"},
		{[]string{"--addr", "h:1", "-n", "101", "--", "cmd"}, "-n 101 is above 100"},
		{[]string{"--addr", "h:1", "-n", "two", "--", "cmd"}, "invalid value"},
		{[]string{"--addr", "h:1,,h:2", "--", "cmd"}, "want host:port"},
		{[]string{"--addr", "h:1,h", "--", "cmd"}, "missing port"},
	} {
		_, err := parseLock(c.args, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseLock(%q) = %v; want a usage error saying %q", c.args, err, c.want)
		}
	}
	if _, err := parseLock([]string{"--addr", "h:1", "--ttl", "2s", "--grace", "730ms", "--", "cmd"}, io.Discard); err != nil {
		t.Errorf("the longest grace is rejected: %v", err)
	}
	for _, addr := range []string{"h:1", ":5050", "[::1]:5050", "dns:///h:1", "unix:///tmp/qq.sock", "passthrough:///h:1", "h:1, h:2,dns:///h:3"} {
		if _, err := parseLock([]string{"--addr", addr, "--", "cmd"}, io.Discard); err != nil {
			t.Errorf("--addr %q is rejected: %v", addr, err)
		}
	}
	for _, n := range []string{"1", "2", "100"} {
		c, err := parseLock([]string{"--addr", "h:1", "-n", n, "--", "cmd"}, io.Discard)
		if err != nil || strconv.Itoa(c.slots) != n {
			t.Errorf("-n %s: %+v, %v; want accepted", n, c, err)
		}
	}
	if _, err := parseLock([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v; want flag.ErrHelp", err)
	}
}

// A command that cannot run is refused before the campaign, with the
// shell's codes, even with no server to campaign against (--timeout bounds
// the test should the lookup be skipped: that would end in 65).
func TestCommandThatCannotRunIsRefusedFirst(t *testing.T) {
	for _, c := range []struct {
		command string
		want    int
	}{{"/nonexistent/quorum-quest-test", exitNotFound}, {"quorum-quest-test-not-on-path", exitNotFound}, {t.TempDir(), exitCannotRun}} {
		args := []string{"lock", "--addr", "127.0.0.1:1", "--timeout", "2s", "--", c.command}
		if code := run(args, io.Discard, io.Discard); code != c.want {
			t.Errorf("run(%q) = %d; want %d", args, code, c.want)
		}
	}
}

// The exit codes the docs promise for bad usage, without a server.
func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nonsense"}, {"lock"}, {"lock", "--addr", "h:1"}, {"dev-server", "extra"}, {"dev-server", "--default-ttl", "0s"}, {"dev-server", "--addr", ""},
		{"lock", "--addr", "h:1", "-n", "0", "--", "true"}, {"lock", "--addr", "h:1", "-n", "101", "--", "true"}} {
		if code := run(args, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("run(%q) = %d; want %d", args, code, exitUsage)
		}
	}
	for _, args := range [][]string{{"help"}, {"lock", "-h"}, {"dev-server", "-h"}} {
		if code := run(args, io.Discard, io.Discard); code != 0 {
			t.Errorf("run(%q) = %d; want 0", args, code)
		}
	}
}
