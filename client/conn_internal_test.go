package client

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// A connection the client dialled is replaced when it goes silent, through
// the client's own call path: its calls time out on contexts the election
// shares between calls (client/callcontext.go), not on contexts of the
// context package, and the detection must still see them time out. Guards the silence detection of docs/connections.md end to end.
func TestDialledConnectionIsReplacedWhenSilent(t *testing.T) {
	srv := qqtest.NewServer(t)
	p, err := testutil.NewProxy(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	q, err := NewQuorumQuestClient("svc", "dom", 2*time.Second, p.Addr(), WithClientID("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if ok, err := q.TryAcquireLock(ctx); !ok || err != nil {
		t.Fatalf("first acquisition: %v, %v", ok, err)
	}
	// The existing connection goes silent for good; new ones pass.
	if err := p.SetMode(testutil.ProxySilent); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMode(testutil.ProxyPass); err != nil {
		t.Fatal(err)
	}
	for q.conn.Replaced() == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the silent connection was never replaced; state %v", q.State())
		}
		if ok, err := q.TryAcquireLock(ctx); ok && err == nil {
			t.Fatal("a call on the silent connection was answered")
		}
	}
	if ok, err := q.TryAcquireLock(ctx); !ok || err != nil {
		t.Fatalf("acquisition on the replacement: %v, %v", ok, err)
	}
}
