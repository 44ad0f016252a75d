package client

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// renewers runs the renewals of the elections sharing a connection on
// goroutines that outlive one renewal. On a fresh goroutine each renewal
// grew its stack through gRPC's call path again: a tenth of the process's
// CPU at 50,000 elections (docs/performance.md). A renewal goes to a
// worker waiting for one, or runs on its timer's goroutine, which then
// waits as a worker for up to renewerIdle. All leave when the last
// election sharing the connection closes.
type renewers struct {
	key     any
	members atomic.Int32  // elections open on the connection
	work    chan func()   // unbuffered: a send succeeds only when a worker waits
	quit    chan struct{} // closed when the last member leaves
}

// renewerIdle is how long a worker waits for the next renewal: at 10,000
// elections on a connection one comes every half millisecond.
const renewerIdle = time.Second

// renewerPools holds the pool of each shared connection, for as long as
// an election on it is open.
var renewerPools = struct {
	sync.Mutex
	byKey map[any]*renewers
}{byKey: map[any]*renewers{}}

// joinRenewers is the pool of the connection cfg shares: the gRPC
// connection of WithConn, or the stub of WithServerStub when it is a
// pointer (a transport.Conn from DialConn, a qqtest.Server). A client that
// dialled its own has none, and renews on its timers' goroutines.
func joinRenewers(cfg *config) *renewers {
	var key any
	switch {
	case cfg.conn != nil:
		key = cfg.conn
	case sharedStub(cfg.stub):
		key = cfg.stub
	default:
		return nil
	}
	renewerPools.Lock()
	defer renewerPools.Unlock()
	r := renewerPools.byKey[key]
	if r == nil {
		r = &renewers{key: key, work: make(chan func()), quit: make(chan struct{})}
		renewerPools.byKey[key] = r
	}
	r.members.Add(1)
	return r
}

// sharedStub reports whether stub can stand for a connection: a pointer
// to something, told apart by its address (pointers to zero-size values
// may share one).
func sharedStub(stub any) bool {
	t := reflect.TypeOf(stub)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Size() > 0
}

// leave is called once by each member, when it closes and no renewal of
// its own is left to run.
func (r *renewers) leave() {
	if r == nil {
		return
	}
	renewerPools.Lock()
	defer renewerPools.Unlock()
	if r.members.Add(-1) == 0 {
		delete(renewerPools.byKey, r.key)
		close(r.quit)
	}
}

// run is called on a timer's goroutine.
func (r *renewers) run(renew func()) {
	if r == nil {
		renew()
		return
	}
	select {
	case r.work <- renew:
		return
	default:
	}
	renew()
	if r.members.Load() < 2 {
		return // nobody to wait for: the next renewal is an interval away
	}
	idle := time.NewTimer(renewerIdle)
	defer idle.Stop()
	for {
		select {
		case renew := <-r.work:
			renew()
			idle.Reset(renewerIdle)
		case <-idle.C:
			return
		case <-r.quit:
			return
		}
	}
}
