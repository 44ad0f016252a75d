package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code != 0 {
		os.Exit(code)
	}
	goleak.VerifyTestMain(noTests{})
}

// noTests lets goleak check for leaks after m.Run has already run.
type noTests struct{}

func (noTests) Run() int { return 0 }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds, once per test binary and with go build as a user would
// install it, the command and the tests' child program (testdata/child),
// and returns their paths.
func binaries(t testing.TB) (command, child string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "quorum-quest-test")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ name, pkg string }{{"quorum-quest", "."}, {"child", "./testdata/child"}} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b.name), b.pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "quorum-quest"), filepath.Join(binDir, "child")
}
