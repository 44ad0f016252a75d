package fsm

import (
	"errors"
	"fmt"
)

// ErrInvalidTransition is what every refused event matches with errors.Is:
// the event is not defined for the machine's current state.
var ErrInvalidTransition = errors.New("fsm: invalid transition")

// TransitionError says which event was refused in which state.
type TransitionError struct {
	State State
	Event Event
}

// Error describes the refused event.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("fsm: event %q is not defined in state %q", e.Event, e.State)
}

// Is makes TransitionError match ErrInvalidTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }
