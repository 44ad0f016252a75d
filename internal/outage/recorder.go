package outage

import (
	"sync"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/transport"
)

// recorder samples, every bucket, the calls each server of a fleet
// answered and what a connection sent, hedged and replaced, for the rates
// of many elections on one connection.
type recorder struct {
	fleet *testutil.Fleet
	conn  *transport.Conn
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	samples []sample
}

// sample is the counts at one instant: cumulative, since the start.
type sample struct {
	at                      time.Time
	answered                []int64 // per server
	calls, hedged, replaced int64
}

func startRecorder(f *testutil.Fleet, conn *transport.Conn, bucket time.Duration) *recorder {
	r := &recorder{fleet: f, conn: conn, quit: make(chan struct{}), done: make(chan struct{})}
	r.take()
	go func() {
		defer close(r.done)
		t := time.NewTicker(bucket)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.take()
			case <-r.quit:
				return
			}
		}
	}()
	return r
}

func (r *recorder) take() {
	s := sample{at: time.Now(), calls: r.conn.Calls(), hedged: r.conn.Hedged(), replaced: r.conn.Replaced()}
	for i := range r.fleet.Size() {
		s.answered = append(s.answered, r.fleet.Answered(i))
	}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// stop ends the sampling; it is idempotent.
func (r *recorder) stop() {
	r.once.Do(func() {
		close(r.quit)
		<-r.done
	})
}

// series returns the samples taken.
func (r *recorder) series() series {
	r.mu.Lock()
	defer r.mu.Unlock()
	return series(append([]sample(nil), r.samples...))
}

// series is a recorder's samples, in time order.
type series []sample

// within returns the samples taken in [from, to], with the one before
// from (the start of the bucket from falls in) unless one was taken at
// from.
func (s series) within(from, to time.Time) series {
	lo, hi := 0, len(s)
	for lo < len(s) && s[lo].at.Before(from) {
		lo++
	}
	if lo > 0 && (lo == len(s) || s[lo].at.After(from)) {
		lo-- // the bucket from falls in
	}
	for hi > lo && s[hi-1].at.After(to) {
		hi--
	}
	return s[lo:hi]
}

// rate returns the mean and the peak bucket of the calls answered per
// second in [from, to], by server (every server: -1).
func (s series) rate(from, to time.Time, server int) (mean, peak float64) {
	w := s.within(from, to)
	if len(w) < 2 {
		return 0, 0
	}
	count := func(x sample) int64 {
		if server >= 0 {
			return x.answered[server]
		}
		var n int64
		for _, a := range x.answered {
			n += a
		}
		return n
	}
	return float64(count(w[len(w)-1])-count(w[0])) / w[len(w)-1].at.Sub(w[0].at).Seconds(), w.peak(count)
}

// peak is the highest rate per second of count over one bucket.
func (s series) peak(count func(sample) int64) float64 {
	p := 0.0
	for i := 1; i < len(s); i++ {
		if d := s[i].at.Sub(s[i-1].at).Seconds(); d > 0 {
			p = max(p, float64(count(s[i])-count(s[i-1]))/d)
		}
	}
	return p
}

// sent returns the calls the connection sent and hedged in [from, to].
func (s series) sent(from, to time.Time) (calls, hedged int64) {
	w := s.within(from, to)
	if len(w) < 2 {
		return 0, 0
	}
	a, b := w[0], w[len(w)-1]
	return b.calls - a.calls, b.hedged - a.hedged
}

// hedgePeak is the peak bucket of hedges per second in [from, to].
func (s series) hedgePeak(from, to time.Time) float64 {
	return s.within(from, to).peak(func(x sample) int64 { return x.hedged })
}

// replacedAt is the first sample after from showing a replacement more
// than at from: when the connection replaced a link, to a bucket.
func (s series) replacedAt(from time.Time) (time.Time, bool) {
	if len(s) == 0 {
		return time.Time{}, false
	}
	w := s.within(from, s[len(s)-1].at)
	if len(w) == 0 {
		return time.Time{}, false
	}
	for _, x := range w[1:] {
		if x.replaced > w[0].replaced {
			return x.at, true
		}
	}
	return time.Time{}, false
}

// replacements counts the links replaced in [from, to].
func (s series) replacements(from, to time.Time) int64 {
	w := s.within(from, to)
	if len(w) < 2 {
		return 0
	}
	return w[len(w)-1].replaced - w[0].replaced
}

// longestGap is the longest time between two samples in [from, to]: a
// process starved of CPU takes its samples late.
func (s series) longestGap(from, to time.Time) time.Duration {
	w := s.within(from, to)
	var g time.Duration
	for i := 1; i < len(w); i++ {
		g = max(g, w[i].at.Sub(w[i-1].at))
	}
	return g
}

// hedgesPer returns the hedges in each span of length d from from until
// to.
func (s series) hedgesPer(from, to time.Time, d time.Duration) []int64 {
	var out []int64
	for t := from; t.Before(to); t = t.Add(d) {
		end := t.Add(d)
		if end.After(to) {
			end = to
		}
		_, h := s.sent(t, end)
		out = append(out, h)
	}
	return out
}
