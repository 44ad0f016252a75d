package otelmetrics_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/otelmetrics"
	"github.com/quorum-quest/client-go/qqtest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
)

const (
	service = "billing"
	domain  = "production"
	ttl     = 15 * time.Second
	// usable is the part of a 15s lease the client trusts with the default
	// drift (1%) and margin (100ms).
	usable = ttl - 150*time.Millisecond - 100*time.Millisecond
)

var bg = context.Background()

// series is what a collection holds: per instrument name, per attribute
// set (encoded), the data point rendered as text, so that two collections
// compare exactly, float sums included.
type series map[string]map[string]string

func collect(t *testing.T, r *sdkmetric.ManualReader) series {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(bg, &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := series{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmetrics.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelmetrics.ScopeName)
		}
		for _, m := range sm.Metrics {
			points := map[string]string{}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[enc(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					t.Errorf("%s is not monotonic", m.Name)
				}
				for _, p := range d.DataPoints {
					points[enc(p.Attributes)] = fmt.Sprint(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					points[enc(p.Attributes)] = hist(p.Count, p.Sum, p.Bounds, p.BucketCounts)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = points
		}
	}
	return out
}

func enc(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// hist renders a histogram point: its count, sum and the non-empty
// buckets by upper bound.
func hist(count uint64, sum float64, bounds []float64, counts []uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d sum=%v", count, sum)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		if i < len(bounds) {
			fmt.Fprintf(&b, " le%v:%d", bounds[i], n)
		} else {
			fmt.Fprintf(&b, " inf:%d", n)
		}
	}
	return b.String()
}

// attrs encodes a client's attributes plus kvs as the SDK does.
func attrs(id string, kvs ...attribute.KeyValue) string {
	all := append([]attribute.KeyValue{
		otelmetrics.ServiceKey.String(service),
		otelmetrics.DomainKey.String(domain),
		otelmetrics.ClientIDKey.String(id),
		attribute.String("deployment.environment.name", "test"),
	}, kvs...)
	return enc(attribute.NewSet(all...))
}

func change(id, from, to, event string) string {
	return attrs(id, otelmetrics.FromKey.String(from), otelmetrics.ToKey.String(to), otelmetrics.EventKey.String(event))
}

func byEvent(id, event string) string { return attrs(id, otelmetrics.EventKey.String(event)) }

func diff(t *testing.T, when string, got, want series) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		for _, a := range slices.Sorted(maps.Keys(want[name])) {
			if g, ok := got[name][a]; !ok || g != want[name][a] {
				t.Errorf("%s: %s{%s} = %q, want %q", when, name, a, g, want[name][a])
			}
		}
		for a, g := range got[name] {
			if _, ok := want[name][a]; !ok {
				t.Errorf("%s: unexpected %s{%s} = %q", when, name, a, g)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected instrument %s: %v", when, name, got[name])
		}
	}
}

// A scripted election in virtual time: replica-a acquires (the grant
// delayed 40ms), renews, fails a renewal, loses the lease when it runs
// out, is denied while replica-b leads, re-acquires after b releases,
// has a renewal refused after the server lost its state, and closes.
// Every instrument's value is checked exactly, mid-way and at the end.
// Collections in between flush what was counted, so the end's figures
// also show that nothing is counted twice or lost across flushes.
func TestScriptedElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer provider.Shutdown(bg)
		opt := otelmetrics.Option(provider, otelmetrics.WithAttributes(attribute.String("deployment.environment.name", "test")))

		srv := qqtest.NewUnstartedServer()
		newClient := func(id string) *client.QuorumQuestClient {
			c, err := client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(srv.Stub()), client.WithClientID(id), opt)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		a, b := newClient("replica-a"), newClient("replica-b")
		start := time.Now()
		at := func(d time.Duration) {
			time.Sleep(time.Until(start.Add(d)))
			synctest.Wait()
		}
		try := func(c *client.QuorumQuestClient, want bool) {
			t.Helper()
			if got, err := c.TryAcquireLock(bg); got != want {
				t.Fatalf("%s: TryAcquireLock = %v, %v; want %v", c.ClientID(), got, err, want)
			}
			synctest.Wait() // the hooks have recorded
		}

		// Both gauges exist from the start.
		diff(t, "at start", collect(t, reader), series{
			otelmetrics.LeaderName: {attrs("replica-a"): "0", attrs("replica-b"): "0"},
		})

		// 0s: a's first grant arrives 40ms after it was asked for.
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Delay: 40 * time.Millisecond} })
		try(a, true)
		srv.SetFaultFunc(nil)
		got := collect(t, reader)
		diff(t, "after the first grant", got, series{
			otelmetrics.LeaderName:              {attrs("replica-a"): "1", attrs("replica-b"): "0"},
			otelmetrics.TransitionsName:         {change("replica-a", "follower", "acquiring", "acquire"): "1", change("replica-a", "acquiring", "leader", "granted"): "1"},
			otelmetrics.AcquisitionsName:        {attrs("replica-a"): "1"},
			otelmetrics.AcquisitionDurationName: {attrs("replica-a"): "count=1 sum=0.04 le0.05:1"},
		})

		// 5s: a renews; 14.75s - 5s of the first lease were left.
		at(5 * time.Second)
		try(a, true)
		// 10s: a renewal fails; the lease (to 19.75s) still runs.
		at(10 * time.Second)
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Code: codes.Unavailable} })
		try(a, true)
		srv.SetFaultFunc(nil)
		// 19.75s: the lease runs out; a is lost.
		at(20 * time.Second)
		if a.State() != client.StateLost {
			t.Fatalf("a is %s at 20s, want lost", a.State())
		}
		if v := collect(t, reader)[otelmetrics.LeaderName][attrs("replica-a")]; v != "0" {
			t.Errorf("leader gauge of a lost client = %s, want 0", v)
		}
		// 21s: b leads (the server's lock expired at 20s); 22s: a is
		// denied and starts waiting; 30s: b releases; 31s: a acquires
		// after 9s of trying.
		at(21 * time.Second)
		try(b, true)
		at(22 * time.Second)
		try(a, false)
		at(30 * time.Second)
		if err := b.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		collect(t, reader)
		at(31 * time.Second)
		try(a, true)
		// 33s: the server loses its state and b takes the lock; 35s: a's
		// renewal is refused.
		at(33 * time.Second)
		srv.Restart()
		try(b, true)
		at(35 * time.Second)
		try(a, false)
		a.Close()
		b.Close()

		remaining := usable - 5*time.Second
		waits := []float64{(40 * time.Millisecond).Seconds(), (9 * time.Second).Seconds()}
		// Closed clients report no leadership: their gauges end.
		diff(t, "at the end", collect(t, reader), series{
			otelmetrics.TransitionsName: {
				change("replica-a", "follower", "acquiring", "acquire"): "2",
				change("replica-a", "acquiring", "leader", "granted"):   "2",
				change("replica-a", "leader", "refreshing", "acquire"):  "3",
				change("replica-a", "refreshing", "leader", "granted"):  "1",
				change("replica-a", "refreshing", "leader", "failed"):   "1",
				change("replica-a", "leader", "lost", "expire"):         "1",
				change("replica-a", "lost", "acquiring", "acquire"):     "1",
				change("replica-a", "acquiring", "follower", "denied"):  "1",
				change("replica-a", "refreshing", "lost", "denied"):     "1",
				change("replica-a", "lost", "closed", "close"):          "1",
				change("replica-b", "follower", "acquiring", "acquire"): "2",
				change("replica-b", "acquiring", "leader", "granted"):   "2",
				change("replica-b", "leader", "follower", "release"):    "1",
				change("replica-b", "leader", "closed", "close"):        "1",
			},
			otelmetrics.AcquisitionsName: {attrs("replica-a"): "2", attrs("replica-b"): "2"},
			otelmetrics.LossesName: {
				byEvent("replica-a", "expire"): "1",
				byEvent("replica-a", "denied"): "1",
			},
			otelmetrics.FailedRenewalsName: {
				byEvent("replica-a", "failed"): "1",
				byEvent("replica-a", "denied"): "1",
			},
			otelmetrics.AcquisitionDurationName: {
				attrs("replica-a"): fmt.Sprintf("count=2 sum=%v le0.05:1 le10:1", waits[0]+waits[1]),
				attrs("replica-b"): "count=2 sum=0 le0.005:2",
			},
			otelmetrics.LeaseRemainingName: {
				attrs("replica-a"): fmt.Sprintf("count=1 sum=%v le10:1", remaining.Seconds()),
			},
		})
	})
}

// A standby that gives up with ReleaseLock while following (no transition
// shows it) starts timing afresh at its next attempt, as the package doc
// says: its acquisition an hour later took no time, not an hour.
func TestReleaseWhileFollowingRestartsAcquisitionTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer provider.Shutdown(bg)
		srv := qqtest.NewUnstartedServer()
		a, err := client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(srv.Stub()), client.WithClientID("replica-a"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := client.NewQuorumQuestClient(service, domain, ttl, "", client.WithServerStub(srv.Stub()), client.WithClientID("replica-b"),
			otelmetrics.Option(provider))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if ok, err := a.TryAcquireLock(bg); !ok {
			t.Fatalf("a: TryAcquireLock = false, %v", err)
		}
		if ok, err := b.TryAcquireLock(bg); ok || err != nil {
			t.Fatalf("b: TryAcquireLock = %v, %v; want denied", ok, err)
		}
		if err := b.ReleaseLock(bg); err != nil { // b stops trying
			t.Fatal(err)
		}
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		if ok, err := b.TryAcquireLock(bg); !ok {
			t.Fatalf("b: TryAcquireLock = false, %v", err)
		}
		got := collect(t, reader)[otelmetrics.AcquisitionDurationName][enc(attribute.NewSet(
			otelmetrics.ServiceKey.String(service), otelmetrics.DomainKey.String(domain), otelmetrics.ClientIDKey.String("replica-b")))]
		if want := "count=1 sum=0 le0.005:1"; got != want {
			t.Fatalf("b's acquisition duration %s, want %s (timed from its attempt after the release)", got, want)
		}
	})
}
