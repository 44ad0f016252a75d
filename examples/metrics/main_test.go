package main

import (
	"strings"
	"testing"

	"github.com/quorum-quest/client-go/otelmetrics"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example exports every instrument it records to stdout.
func TestExampleExports(t *testing.T) {
	var out strings.Builder
	if err := run("", &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		otelmetrics.LeaderName, otelmetrics.TransitionsName, otelmetrics.AcquisitionsName,
		otelmetrics.AcquisitionDurationName, `"replica-a"`, `"replica-b"`,
	} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("output lacks %s:\n%s", name, out.String())
		}
	}
}
