package client_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// A liveness probe for a replica: /healthz answers 503 with the reason once
// the client's calls have failed for three TTLs, or its lease ran out
// while renewals were failing.
func ExampleHealthCheck() {
	const ttl = 15 * time.Second
	health, err := client.NewHealthCheck(3 * ttl)
	if err != nil {
		log.Fatal(err)
	}
	srv := qqtest.NewUnstartedServer()
	c, err := client.NewQuorumQuestClient("my-service", "production", ttl, "localhost:5050",
		client.WithServerStub(srv.Stub()), client.WithHealthCheck(health))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	// http.ListenAndServe(":8080", mux) in a real program; here, one request:
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 200 ok
}
