package client

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// A connection the client dialled is replaced when it goes silent, through
// the client's own call path: both of its links go silent, so no call is
// answered until one is replaced. Guards the silence detection of
// docs/connections.md end to end.
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
	// A link still connecting when the proxy goes silent would connect
	// afterwards and answer without a replacement.
	if err := q.conn.WaitReady(ctx); err != nil {
		t.Fatalf("links not READY: %v", err)
	}
	// The existing connection goes silent for good; new ones pass.
	if err := p.SetMode(testutil.ProxySilent); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMode(testutil.ProxyPass); err != nil {
		t.Fatal(err)
	}
	// No call is answered until a link is replaced: a call may wait while
	// one is, and its hedged copy be answered on the replacement once that
	// is READY, so the client asks until an answer comes.
	for {
		ok, err := q.TryAcquireLock(ctx)
		if ok && err == nil {
			if q.conn.Replaced() == 0 {
				t.Fatal("a call on the silent connection was answered")
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("no acquisition answered within 20 s (%d links replaced); state %v", q.conn.Replaced(), q.State())
		}
	}
}
