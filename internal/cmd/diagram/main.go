// Command diagram writes the election state diagram (fsm.Diagram) to the
// file named by its only argument; `make diagram` runs it to refresh
// docs/state-diagram.md.
package main

import (
	"fmt"
	"os"

	"github.com/quorum-quest/client-go/fsm"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: diagram OUTPUT.md")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], []byte(fsm.Diagram()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "diagram:", err)
		os.Exit(1)
	}
}
