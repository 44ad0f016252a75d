package checker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any schedule leaves a goroutine behind, such
// as a candidate's keep-alive or a call blocked on a dropped request.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
