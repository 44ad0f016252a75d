package shard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/shard"
)

// One replica of many: it owns its share of 8 shards and works on each
// while it owns it. Give every replica the same service, domain and shard
// count; they balance among themselves.
func Example() {
	srv := qqtest.NewUnstartedServer() // in production: your server's address
	set, err := shard.New("indexer", "eu-west", 8, 2*time.Second, "",
		shard.WithClientOptions(client.WithServerStub(srv.Stub()), client.WithClientID("replica-1")))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	won := make(chan int, 8)
	_ = set.Run(ctx, func(owning context.Context, i int) {
		won <- i
		<-owning.Done() // work on shard i until its ownership ends
	})
	fmt.Println("shards won:", len(won))
	_ = set.Close()
	// Output: shards won: 8
}
