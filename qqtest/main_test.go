package qqtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, such as
// a gRPC server or a handler blocked on a dropped call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
