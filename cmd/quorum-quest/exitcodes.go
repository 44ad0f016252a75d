package main

// The runner's exit codes. Apart from these, `lock` exits with its child's
// code when the child ends by itself (128+n when signal n killed it), and
// with 128+n when signal n (SIGINT, SIGTERM, SIGQUIT) stopped the runner.
const (
	// exitUsage: bad flags or arguments, or a configuration the runner
	// cannot keep its guarantee with (a --grace too long for the --ttl).
	exitUsage = 64
	// exitTimeout: not leading within --timeout.
	exitTimeout = 65
	// exitLost: leadership was lost, or was about to run out because
	// renewals failed, and the child was stopped for it.
	exitLost = 66
	// exitUnreachable: the server could not be reached (or refused the
	// client's calls) for --unreachable while waiting to lead.
	exitUnreachable = 67
	// exitCannotRun: the command could not be started (126 as shells use
	// for a command that is not executable; 127 for one not found).
	exitCannotRun = 126
	exitNotFound  = 127
)
