package client_test

import (
	"encoding/json"
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
// against a server unchanged but for its address. The seed README is kept
// in testdata/, so the comparison never depends on anything outside the
// repository; the program is built from a temporary directory through an
// overlay, so nothing is written inside the module.
func TestReadmeBasicExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	code := basicExample(t, "../README.md")
	const seedImport = `quorumquestclient "github.com/avivl/quorum-quest/client/go/quorum-quest-client"`
	const ourImport = `quorumquestclient "github.com/quorum-quest/client-go/client"`
	seed := basicExample(t, "testdata/seed-README.md")
	if !strings.Contains(seed, seedImport) {
		t.Fatalf("testdata/seed-README.md's example no longer imports %s", seedImport)
	}
	if want := strings.Replace(seed, seedImport, ourImport, 1); code != want {
		t.Fatalf("README's basic example differs from the seed's beyond the import path:\n%s", code)
	}
	if !strings.Contains(code, `"localhost:5050"`) {
		t.Fatal("basic example no longer dials localhost:5050")
	}
	addr := qqtest.NewServer(t).Addr()
	code = strings.Replace(code, `"localhost:5050"`, `"`+addr+`"`, 1)

	// The program appears to the go command as a package inside the module
	// (so it builds against this checkout), while its file lives in tmp.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "internal", "readme-example", "main.go"): src},
	})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "-overlay", overlayFile, "./internal/readme-example")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "We are the leader!") {
		t.Fatalf("output lacks %q:\n%s", "We are the leader!", out)
	}
}
