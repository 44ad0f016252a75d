package client_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/internal/benchmark"
	"go.uber.org/goleak"
)

// driven records every transition any client in these tests made, so that
// TestMain can fail when a rule of the table is never driven end to end.
var driven = struct {
	sync.Mutex
	rules map[fsm.Rule]bool
}{rules: map[fsm.Rule]bool{}}

// recordTransitions is added to every client the tests create.
func recordTransitions(t client.Transition) {
	driven.Lock()
	defer driven.Unlock()
	driven.rules[fsm.Rule{From: t.From, Event: t.Event, To: t.To}] = true
}

func TestMain(m *testing.M) {
	benchmark.ServeIfChild() // the call benchmarks' out-of-process server
	code := m.Run()
	if code == 0 && !filtered() {
		if missing := undriven(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "no client test drives these transitions of the table:\n  %v\n", missing)
			code = 1
		}
	}
	if code == 0 {
		goleak.VerifyTestMain(noTests{})
		return
	}
	os.Exit(code)
}

// noTests lets goleak.VerifyTestMain check for leaks after m.Run has
// already run, so the coverage check above can come first.
type noTests struct{}

func (noTests) Run() int { return 0 }

// filtered reports whether only some tests ran, when coverage of the table
// is not expected.
func filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

func undriven() []string {
	driven.Lock()
	defer driven.Unlock()
	var out []string
	for _, r := range fsm.Rules() {
		r.Meaning = ""
		if !driven.rules[r] {
			out = append(out, fmt.Sprintf("%s --%s--> %s", r.From, r.Event, r.To))
		}
	}
	sort.Strings(out)
	return out
}
