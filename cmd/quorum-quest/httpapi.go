package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"
)

// leaderStatus is the body of GET /leader.
type leaderStatus struct {
	// Leader is true while this runner's child runs under the lock and no
	// stop of it has begun.
	Leader bool `json:"leader"`
	// ClientID is the ID the runner campaigns with.
	ClientID string `json:"client_id"`
	// RemainingLeaseMS is the lease's remaining trusted time; 0 when not
	// leading.
	RemainingLeaseMS int64 `json:"remaining_lease_ms"`
	// Service and Domain name the lock.
	Service string `json:"service"`
	Domain  string `json:"domain"`
	// State is the client's state (follower, acquiring, leader, ...).
	State string `json:"state"`
}

// serveHTTP serves GET /leader (200 while leading, 503 otherwise, the same
// JSON either way: a readiness probe that routes traffic to the leader
// only) and GET /healthz (the client's HealthCheck) on addr. stop closes
// the server.
func (r *runner) serveHTTP(addr string) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /leader", r.serveLeader)
	mux.Handle("GET /healthz", r.health)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.logf("http: %v", err)
		}
	}()
	r.logf("http on %s", lis.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}

func (r *runner) serveLeader(w http.ResponseWriter, _ *http.Request) {
	remaining := r.q.GetRemainingLease()
	st := leaderStatus{
		Leader:   r.leading.Load() && remaining > 0,
		ClientID: r.q.ClientID(),
		Service:  r.cfg.service,
		Domain:   r.cfg.domain,
		State:    r.q.State().String(),
	}
	if st.Leader {
		st.RemainingLeaseMS = remaining.Milliseconds()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !st.Leader {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(st)
}
