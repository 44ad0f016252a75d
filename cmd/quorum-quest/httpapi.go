package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
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
	// Slot, with -n above 1 only, is the slot held (Domain is then that
	// slot's lock), or -1.
	Slot *int `json:"slot,omitempty"`
}

// startHTTP serves --http, if given; ok is false when it cannot (said on
// stderr). stop is to be called on the way out.
func (r *runner) startHTTP() (stop func(), ok bool) {
	if r.cfg.httpAddr == "" {
		return func() {}, true
	}
	stop, err := r.serveHTTP(r.cfg.httpAddr)
	if err != nil {
		fmt.Fprintf(r.stderr, "quorum-quest lock: --http: %v\n", err)
		return nil, false
	}
	return stop, true
}

// serveHTTP serves GET /leader (200 while leading, 503 otherwise, the same
// JSON either way: a readiness probe that routes traffic to the leader
// only) and GET /healthz (the client's HealthCheck) on addr. stop closes
// the server.
func (r *runner) serveHTTP(addr string) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /leader", r.serveLeader)
	check := r.unreachable // -n above 1: client.HealthCheck watches one client only
	if r.health != nil {
		check = r.health.Check
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
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
	st := leaderStatus{ClientID: r.id(), Service: r.cfg.service, Domain: r.cfg.domain}
	var l lease = r.q
	if r.slot != nil {
		slot, held := -1, r.slot.held.Load()
		st.Slot, l = &slot, idle{}
		if held != nil {
			slot, l = held.slot, held
			st.Domain += "/" + strconv.Itoa(slot)
		}
	}
	remaining := l.GetRemainingLease()
	st.Leader = r.leading.Load() && remaining > 0
	st.State = l.State().String()
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
