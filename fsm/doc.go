// Package fsm is the election state machine of the Quorum Quest client: its
// states, the events that move between them, and the one transition table
// that both drives github.com/looplab/fsm and renders the state diagram in
// docs/state-diagram.md.
//
// The package does no I/O and keeps no time. A Machine is not safe for
// concurrent use: the client gives each Machine one owner at a time (a
// mutex), because looplab/fsm races and can wedge when Event is called from
// several goroutines at once or from inside its own callbacks.
package fsm
