package client

import (
	"context"
	"log/slog"
)

// logbook holds what is noted under the mutex until guard.unlock logs it.
type logbook struct {
	logger  *slog.Logger
	silent  bool // the logger discards everything: note nothing
	entries []logEntry
}

// logEntry is a message, or a transition logged at debug level.
type logEntry struct {
	level      slog.Level
	msg        string
	err        error
	transition *Transition
}

func newLogbook(logger *slog.Logger) logbook {
	return logbook{logger: logger, silent: logger.Handler() == slog.DiscardHandler}
}

func (l *logbook) note(level slog.Level, msg string, err error) {
	if !l.silent {
		l.entries = append(l.entries, logEntry{level: level, msg: msg, err: err})
	}
}

func (l *logbook) noteTransition(t Transition) {
	if l.silent {
		return
	}
	p := new(Transition) // allocated here only: a logger that discards costs nothing
	*p = t
	l.entries = append(l.entries, logEntry{level: slog.LevelDebug, transition: p})
}

func (l *logbook) take() []logEntry {
	entries := l.entries
	l.entries = nil
	return entries
}

func (l *logbook) putBack(entries []logEntry) { l.entries = append(entries, l.entries...) }

func (l *logbook) emit(entries []logEntry) {
	ctx := context.Background()
	for _, e := range entries {
		if !l.logger.Enabled(ctx, e.level) { // spares boxing the arguments
			continue
		}
		if t := e.transition; t != nil {
			l.logger.Log(ctx, e.level, "quorumquest: transition", "from", t.From, "to", t.To, "event", t.Event, "err", t.Err)
			continue
		}
		l.logger.Log(ctx, e.level, e.msg, "err", e.err)
	}
}
