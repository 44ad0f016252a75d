package client

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// goroutineID reads the calling goroutine's number from its stack's
// header, to tell which goroutine ran a renewal.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	return string(id)
}

// startRun calls r.run(renew) on a goroutine of its own, as a timer does,
// and returns a channel closed when run returns.
func startRun(r *renewers, renew func()) <-chan struct{} {
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		r.run(renew)
	}()
	return returned
}

func returnedYet(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Elections sharing a connection renew on a worker that outlives a
// renewal, so that the stack gRPC grew for one serves the next.
func TestRenewalRunsOnAWaitingWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &config{conn: new(grpc.ClientConn)}
		a, b := joinRenewers(cfg), joinRenewers(cfg)
		if a != b {
			t.Fatal("two elections on one connection got different pools")
		}
		var first, second string
		worker := startRun(a, func() { first = goroutineID() })
		synctest.Wait()
		if returnedYet(worker) {
			t.Fatal("the timer's goroutine did not stay as a worker on a shared connection")
		}
		handedOver := startRun(b, func() { second = goroutineID() })
		synctest.Wait()
		if !returnedYet(handedOver) {
			t.Error("a renewal handed to a waiting worker kept its timer's goroutine")
		}
		if first == "" || first != second {
			t.Errorf("renewals ran on goroutines %q and %q, want the same worker", first, second)
		}
		a.leave()
		b.leave()
		synctest.Wait()
		if !returnedYet(worker) {
			t.Error("a worker outlived the last election on its connection")
		}
	})
}

// A worker waits renewerIdle for a renewal and no longer; the pool is
// forgotten when its last election leaves, so the next is a new one.
func TestRenewersEndWithTheirLastElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &config{conn: new(grpc.ClientConn)}
		a, b := joinRenewers(cfg), joinRenewers(cfg)
		start := time.Now()
		worker := startRun(a, func() {})
		<-worker
		if waited := time.Since(start); waited != renewerIdle {
			t.Errorf("an idle worker waited %v, want %v", waited, renewerIdle)
		}
		a.leave()
		lone := startRun(b, func() {})
		synctest.Wait()
		if !returnedYet(lone) {
			t.Error("the last election's renewal waited as a worker with nobody to renew for")
		}
		b.leave()
		renewerPools.Lock()
		_, kept := renewerPools.byKey[cfg.conn]
		renewerPools.Unlock()
		if kept {
			t.Error("the pool of a connection no election uses was kept")
		}
		if c := joinRenewers(cfg); c == a {
			t.Error("a pool whose workers were told to leave was used again")
		} else {
			c.leave()
		}
	})
}

// Which elections share a pool: those on one gRPC connection or one
// pointer stub; a client that dialled its own renews on its timers.
func TestRenewersAreSharedPerConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		onStub := &config{stub: srv.Stub()}
		x, y := joinRenewers(onStub), joinRenewers(onStub)
		other := joinRenewers(&config{conn: new(grpc.ClientConn)})
		if x == nil || x != y || other == x {
			t.Errorf("pools %p, %p on one stub and %p on a connection", x, y, other)
		}
		for _, r := range []*renewers{x, y, other} {
			r.leave()
		}
		if own := joinRenewers(&config{}); own != nil {
			t.Errorf("a client without a shared connection joined pool %p", own)
		}
		var ran sync.WaitGroup
		ran.Add(1)
		(*renewers)(nil).run(ran.Done)
		ran.Wait()
		(*renewers)(nil).leave()
	})
}

// A held election is a record and a timer: with a thousand renewing on one
// server, the process holds at most one goroutine per hundred of them.
func TestHeldElectionsCostNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, ttl = 1000, 15 * time.Second
		srv := qqtest.NewUnstartedServer()
		before := runtime.NumGoroutine()
		clients := make([]*QuorumQuestClient, n)
		for i := range clients {
			q, err := NewQuorumQuestClient("held", fmt.Sprint("election-", i), ttl, "", WithServerStub(srv.Stub()))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Campaign(t.Context()); err != nil {
				t.Fatal(err)
			}
			clients[i] = q
			time.Sleep(ttl / 3 / n) // spread over an interval, as elections started apart are
		}
		most := 0
		for range 40 { // four renewals each
			time.Sleep(ttl / 30)
			synctest.Wait()
			most = max(most, runtime.NumGoroutine()-before)
		}
		if most > n/100 {
			t.Errorf("%d goroutines more with %d elections held, want at most %d", most, n, n/100)
		}
		if renewed := srv.Calls().KeepAlive; renewed < 3*n {
			t.Errorf("%d renewals, want at least %d: the elections were not renewing", renewed, 3*n)
		}
		for i, q := range clients {
			if !q.IsLeader() {
				t.Fatalf("election %d lost its lease", i)
			}
			q.Close()
		}
	})
}
