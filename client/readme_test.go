package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quorum-quest/client-go/qqtest"
)

// basicExample returns the Go code under "### Basic Example" in a README.
func basicExample(t *testing.T, readme string) string {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Basic Example")
	if !ok {
		t.Fatalf("%s has no Basic Example", readme)
	}
	_, rest, ok = strings.Cut(rest, "```go\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("%s: no Go block under Basic Example", readme)
	}
	return code
}

// The seed README's example, as our README shows it, compiles and runs
// against a server unchanged but for its address.
func TestReadmeBasicExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	code := basicExample(t, "../README.md")
	const seedImport = `quorumquestclient "github.com/avivl/quorum-quest/client/go/quorum-quest-client"`
	const ourImport = `quorumquestclient "github.com/quorum-quest/client-go/client"`
	// Where the seed README is at hand, ours must show its example with only
	// the import path changed.
	if seed, err := os.ReadFile("../../shared/seed/quorum-quest-client-README.md"); err == nil {
		tmp := filepath.Join(t.TempDir(), "seed.md")
		if err := os.WriteFile(tmp, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(basicExample(t, tmp), seedImport, ourImport, 1); code != want {
			t.Fatalf("README's basic example differs from the seed's beyond the import path:\n%s", code)
		}
	}
	if !strings.Contains(code, `"localhost:5050"`) {
		t.Fatal("basic example no longer dials localhost:5050")
	}
	addr := qqtest.NewServer(t).Addr()
	code = strings.Replace(code, `"localhost:5050"`, `"`+addr+`"`, 1)

	dir, err := os.MkdirTemp("..", "_readme-example-") // inside the module, ignored by ./...
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./"+filepath.Base(dir))
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "We are the leader!") {
		t.Fatalf("output lacks %q:\n%s", "We are the leader!", out)
	}
}
