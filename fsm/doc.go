// Package fsm is the election state machine of the Quorum Quest client: its
// states, the events that move between them, and the one transition table
// that both drives github.com/looplab/fsm and renders the state diagram in
// docs/state-diagram.md.
//
// The package does no I/O and keeps no time. A Machine is not safe for
// concurrent use: the client gives each Machine one owner at a time (a
// mutex), since a check (Can) and a move (SetState) of looplab/fsm from
// two goroutines could interleave, and its Event races and can wedge when
// called from several goroutines at once or from its own callbacks.
package fsm
