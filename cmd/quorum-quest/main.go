// Command quorum-quest runs a process on exactly one replica, under a
// Quorum Quest lock, and serves the in-memory server for development.
//
//	quorum-quest lock --addr host:port [-n N] [flags] -- command [args...]
//	quorum-quest dev-server [--addr host:port]
//
// lock campaigns for the lock of --service/--domain and, while leading,
// runs the command as its child. The child never outlives the runner's
// right to run: when renewals fail, it is stopped (SIGTERM, --grace,
// SIGKILL) and reaped before the lease's local deadline, which comes before
// the server can give the lock to another replica; when the server says
// the lock is not ours, it is killed at once; and it dies with the runner,
// even when the runner is killed with SIGKILL (Linux). With -n N, at most
// N replicas run the command at once, each in a slot of its own
// (QUORUM_QUEST_SLOT), with the same guarantee per slot. See the README's
// "The quorum-quest command" and docs/command.md for the flags, the
// guarantee with its assumptions, and the exit codes.
//
// dev-server serves the in-memory Quorum Quest server on a TCP address,
// with the real server's wire semantics but no storage backend.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  quorum-quest lock --addr host:port [-n N] [flags] -- command [args...]
  quorum-quest dev-server [--addr host:port] [flags]

Run "quorum-quest lock -h" or "quorum-quest dev-server -h" for the flags.
`

// run dispatches to a subcommand and returns the process's exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "lock":
		return runLock(args[1:], stderr)
	case "dev-server":
		return runDevServer(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "quorum-quest: unknown command %q\n%s", args[0], usage)
	return exitUsage
}
