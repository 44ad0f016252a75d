package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo's whole story (election, failover after a vanished leader,
// graceful handover) completes on the in-process server and cleans up.
func TestDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds of real time")
	}
	if err := run("", "demo-test", "test", time.Second); err != nil {
		t.Fatal(err)
	}
}
