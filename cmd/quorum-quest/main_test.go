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

// TestMain doubles as the child the runners run: with QQT_CHILD set, the
// test binary is the leader-only process of the tests (childMain).
func TestMain(m *testing.M) {
	if os.Getenv("QQT_CHILD") != "" {
		os.Exit(childMain())
	}
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
	binPath   string
	buildErr  error
)

// commandBinary builds the command once per test binary, with go build, as
// a user would install it.
func commandBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "quorum-quest-test")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "quorum-quest")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}
