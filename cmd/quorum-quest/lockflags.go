package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quorum-quest/client-go/client"
)

// The allowances that maxGrace sets aside.
const (
	// defaultReapAllowance is --reap-allowance's default: the time kept
	// between the child's SIGKILL and the lease's local deadline, for the
	// kernel tearing the child down, the runner reaping it, and a late
	// timer on a loaded machine.
	defaultReapAllowance = 250 * time.Millisecond
	// renewalSlack covers the round trips of a renewal and of one retry
	// after a failure answered at once (a recycled connection).
	renewalSlack = 100 * time.Millisecond
)

// lockConfig is the validated configuration of `quorum-quest lock`.
type lockConfig struct {
	addr, service, domain, id string
	ttl                       time.Duration
	timeout                   time.Duration // 0: wait forever
	grace                     time.Duration
	reapAllowance             time.Duration
	graceSet                  bool
	restart                   bool
	httpAddr                  string
	retry                     time.Duration
	requestTimeout            time.Duration
	unreachable               time.Duration
	verbose                   bool
	slots                     int // -n: at most this many children at once
	tls                       tlsFlags
	command                   []string
	// timing is the client's schedule for these settings, asked of the
	// library (client.TimingFor) so that maxGrace follows its arithmetic.
	timing client.Timing
}

// maxGrace is the longest --grace that normal renewals never trip over,
// with reap allowance A (--reap-allowance), for a client keeping t.
//
// The runner stops the child when the lease's local deadline D is
// grace + A away: SIGTERM at D - grace - A, SIGKILL at D - A, reaped by
// D. Each renewal moves D later. After a renewal granted at send time s
// (D = s + t.UsableLease), the next renewal, or its retry after a failure
// answered at once (a recycled connection), is sent by
// s + t.RetryAfterFailureBy; with renewalSlack for their round trips it is
// answered by then plus renewalSlack. That must come before the SIGTERM:
//
//	grace ≤ UsableLease − RetryAfterFailureBy − renewalSlack − A
//
// With the library's default timing and A (250 ms) this is
// 0.59 × TTL − 0.45 s: 8.4 s for a 15 s TTL, 0.73 s for 2 s, 0.14 s for
// 1 s.
func maxGrace(t client.Timing, reapAllowance time.Duration) time.Duration {
	return t.UsableLease - t.RetryAfterFailureBy - renewalSlack - reapAllowance
}

// timingOptions are the client options of c that change the client's
// timing; the runner's client is built with them.
func (c *lockConfig) timingOptions() []client.Option {
	return []client.Option{
		client.WithRetryInterval(c.retry),
		client.WithRequestTimeout(c.requestTimeout),
		client.WithCloseTimeout(c.requestTimeout),
	}
}

// errUsage marks errors that are the user's to fix.
var errUsage = errors.New("usage")

func lockFlagSet(c *lockConfig, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: quorum-quest lock --addr host:port [-n N] [flags] -- command [args...]

Campaigns for the lock of --service/--domain; while leading, runs the command
(directly, no shell) in a process group of its own, and stops it before the
lease could pass to another replica. With -n N, at most N replicas run it at
once, each under a slot of its own (QUORUM_QUEST_SLOT). Durations are Go
durations: 300ms, 15s.

`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Exit codes: 64 bad usage; 65 not leading within --timeout; 66 leadership lost
(child stopped); 67 server unreachable for --unreachable while waiting;
126/127 the command cannot run / was not found; 128+n stopped by signal n;
otherwise the child's own exit code (128+n if signal n killed it).
`)
	}
	fs.StringVar(&c.addr, "addr", "", "Quorum Quest server `host:port`, or a comma-separated list of a fleet's (required)")
	fs.StringVar(&c.service, "service", "quorum-quest", "service name of the lock")
	fs.StringVar(&c.domain, "domain", "default", "domain name of the lock")
	fs.DurationVar(&c.ttl, "ttl", 15*time.Second, "lease length asked of the server (at least 1s)")
	fs.StringVar(&c.id, "id", "", "client ID (default: the library's, hostname and a random suffix)")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up (exit 65) if not leading within this; 0 waits forever")
	fs.DurationVar(&c.grace, "grace", 0, "time the child gets between SIGTERM and SIGKILL; 0 skips the SIGTERM (default TTL/5, or the longest allowed if less: 0.59×TTL − 0.2s − --reap-allowance)")
	fs.DurationVar(&c.reapAllowance, "reap-allowance", defaultReapAllowance, "time kept between the child's SIGKILL and the lease's deadline, for the child to die and be reaped; raise it for children that take long to tear down (a large heap)")
	fs.BoolVar(&c.restart, "restart", false, "campaign again after the child ends (standing aside a retry interval, so that another replica runs it next) or leadership is lost, instead of exiting")
	fs.StringVar(&c.httpAddr, "http", "", "serve GET /leader and GET /healthz on this `address`")
	fs.DurationVar(&c.retry, "retry", 0, "retry interval while another replica leads (default TTL/10)")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 0, "bound of each call to the server (default the smaller of 5s and TTL/3)")
	fs.DurationVar(&c.unreachable, "unreachable", 0, "how long calls may fail before the server counts as unreachable: /healthz turns 503 and, while waiting without --restart, the runner exits 67 (default 3×TTL)")
	fs.BoolVar(&c.verbose, "verbose", false, "log every transition of the client")
	fs.IntVar(&c.slots, "n", 1, "run the command on at most `N` replicas at once (a semaphore of N slots, locks --domain/0 to --domain/N-1; every replica must give the same N); the child gets its slot in QUORUM_QUEST_SLOT. 1 is the plain lock of --domain, slot 0")
	c.tls.register(fs)
	return fs
}

// parseLock parses and validates the arguments of `quorum-quest lock`.
// Errors wrap errUsage, or are flag.ErrHelp.
func parseLock(args []string, stderr io.Writer) (*lockConfig, error) {
	c := &lockConfig{}
	fs := lockFlagSet(c, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err) // flag has printed the usage
	}
	c.command = fs.Args()
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "grace" {
			c.graceSet = true
		}
	})
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// maxTTL keeps the durations derived from the TTL (3×TTL for
// --unreachable) from overflowing; the wire itself carries up to 68 years.
const maxTTL = 1000 * 24 * time.Hour

// maxSlots bounds -n: a replica waiting for a slot campaigns for all of
// them, one call each per retry interval.
const maxSlots = 100

// grpcSchemes are the target schemes gRPC resolves without help.
var grpcSchemes = []string{"dns", "unix", "unix-abstract", "passthrough"}

// checkAddr accepts a comma-separated list (the servers of one fleet) of
// host:port with a numeric port, or of gRPC targets with a scheme gRPC
// resolves itself (dns:///host:port, unix:///path). Anything else would
// dial a default port (443), or fail only when the server counts as
// unreachable.
func checkAddr(list string) error {
	for _, addr := range strings.Split(list, ",") {
		if err := checkOneAddr(strings.TrimSpace(addr)); err != nil {
			return err
		}
	}
	return nil
}

func checkOneAddr(addr string) error {
	if scheme, _, ok := strings.Cut(addr, ":"); ok && slices.Contains(grpcSchemes, scheme) {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("want host:port: port %q is not a number from 1 to 65535", port)
	}
	if strings.ContainsAny(host, "/ ") { // an empty host is gRPC's localhost
		return fmt.Errorf("want host:port: host %q", host)
	}
	return nil
}

func (c *lockConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
	}
	if c.addr == "" {
		return bad("--addr is required")
	}
	if err := checkAddr(c.addr); err != nil {
		return bad("--addr %q: %v", c.addr, err)
	}
	switch {
	case len(c.command) == 0:
		return bad("no command: quorum-quest lock [flags] -- command [args...]")
	case c.command[0] == "":
		return bad("the command's name is empty")
	case c.service == "":
		return bad("--service is empty")
	case c.domain == "":
		return bad("--domain is empty")
	case c.ttl < time.Second:
		return bad("--ttl %v is below 1s", c.ttl)
	case c.ttl > maxTTL:
		return bad("--ttl %v is above %v", c.ttl, maxTTL)
	case c.timeout < 0:
		return bad("--timeout %v is negative", c.timeout)
	case c.retry < 0:
		return bad("--retry %v is negative", c.retry)
	case c.requestTimeout < 0:
		return bad("--request-timeout %v is negative", c.requestTimeout)
	case c.unreachable < 0:
		return bad("--unreachable %v is negative", c.unreachable)
	}
	switch {
	case c.slots < 1:
		return bad("-n %d is below 1: the number of children that may run at once", c.slots)
	case c.slots > maxSlots:
		return bad("-n %d is above %d: every waiting replica asks for every slot each --retry", c.slots, maxSlots)
	}
	if c.reapAllowance <= 0 {
		return bad("--reap-allowance %v is not positive", c.reapAllowance)
	}
	if c.retry == 0 {
		c.retry = c.ttl / 10
	}
	if c.requestTimeout == 0 {
		c.requestTimeout = min(5*time.Second, c.ttl/3)
	}
	if c.unreachable == 0 {
		c.unreachable = 3 * c.ttl
	}
	var err error
	if c.timing, err = client.TimingFor(c.ttl, c.timingOptions()...); err != nil {
		return bad("%v", err)
	}
	m := maxGrace(c.timing, c.reapAllowance)
	if m < 0 {
		return bad("--reap-allowance %v leaves no time for a grace at --ttl %v: lengthen --ttl", c.reapAllowance, c.ttl)
	}
	if !c.graceSet {
		c.grace = min(c.ttl/5, m)
	}
	if c.grace < 0 {
		return bad("--grace %v is negative", c.grace)
	}
	if c.grace > m {
		return bad("--grace %v is too long for --ttl %v: the child must be stopped %v before the lease's deadline, "+
			"which normal renewals would trip over; the longest grace for this TTL is %v (0.59×TTL − 0.2s − --reap-allowance): "+
			"shorten --grace or lengthen --ttl", c.grace, c.ttl, c.grace+c.reapAllowance, m.Round(time.Millisecond))
	}
	return c.tls.validate()
}
