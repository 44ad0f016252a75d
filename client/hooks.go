package client

import (
	"fmt"
	"log/slog"
)

// startHook runs hook on a goroutine of its own, fed in order: a slow hook
// delays nothing but itself, nothing is dropped, and a panic is recovered
// and logged.
func startHook(hook func(Transition), logger *slog.Logger) *serial[Transition] {
	return newSerial(func(t Transition) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("quorumquest: transition hook panicked", "from", t.From, "to", t.To, "panic", fmt.Sprint(r))
			}
		}()
		hook(t)
	})
}
