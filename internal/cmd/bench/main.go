// Command bench measures the client against the goals of docs/performance.md
// and prints one table, each goal beside its figure. `make bench` runs it.
//
// The server runs in a child process (this binary again, see
// benchmark.ServeIfChild) on loopback TCP, so that the CPU and allocation
// figures are the client's alone.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/benchmark"
)

func main() {
	benchmark.ServeIfChild()
	testing.Init()
	sizes := flag.String("sizes", "1000,10000,50000", "numbers of elections for the scale measurement")
	window := flag.Duration("window", 30*time.Second, "how long CPU is measured at each scale")
	elections := flag.Int("elections", 200, "elections measured at once for failover and handover")
	ttl := flag.Duration("ttl", 2*time.Second, "TTL of the failover and handover elections")
	rounds := flag.Int("rounds", 5, "rounds of each call benchmark; the table shows medians")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the scale measurement's window to this file")
	calls := flag.Bool("calls", true, "run the call benchmarks")
	takeovers := flag.Bool("takeovers", true, "run the failover and handover measurements")
	flag.Parse()
	if err := run(*sizes, *window, *elections, *ttl, *rounds, *calls, *takeovers); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

type row struct{ goal, figure, verdict string }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

var cpuProfile string

// profile starts a CPU profile into cpuProfile, if one was asked for.
func profile() func() {
	f, err := os.Create(cpuProfile)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func run(sizes string, window time.Duration, elections int, ttl time.Duration, rounds int, calls, takeovers bool) error {
	var rows []row
	fmt.Fprintf(os.Stderr, "machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())

	if calls {
		r, err := callRows(rounds)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}

	addr, stop, err := benchmark.StartServer()
	if err != nil {
		return err
	}
	defer stop()

	if takeovers {
		r, err := takeoverRows(addr, elections, ttl)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	var prof func() func()
	if cpuProfile != "" {
		prof = profile
	}
	for _, field := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad size %q", field)
		}
		s, err := benchmark.MeasureScale(addr, n, 15*time.Second, window, prof)
		if err != nil {
			return err
		}
		bare, err := benchmark.MeasureBareScale(addr, n, 15*time.Second, window)
		if err != nil {
			return err
		}
		ratios = append(ratios, ratio{
			measure: fmt.Sprintf("CPU per election-minute, %d elections", n),
			bare:    fmt.Sprintf("%.3f ms", float64(bare)/1e6),
			client:  fmt.Sprintf("%.3f ms", float64(s.CPUPerElectionMinute)/1e6),
			ratio:   fmt.Sprintf("%.3f", float64(s.CPUPerElectionMinute)/float64(bare)),
			goal:    "<= 1.05",
			met:     float64(s.CPUPerElectionMinute) <= 1.05*float64(bare),
		})
		rows = append(rows,
			row{fmt.Sprintf("%d elections, TTL 15s: <= 16 KiB each", n), fmt.Sprintf("%.1f KiB", s.BytesPerElection/1024), verdict(s.BytesPerElection <= 16*1024)},
			row{fmt.Sprintf("%d elections: <= 2 goroutines each", n), fmt.Sprintf("%.2f", s.GoroutinesPerElection), verdict(s.GoroutinesPerElection <= 2)},
			row{fmt.Sprintf("%d elections: <= 0.5 ms CPU per election-minute", n), fmt.Sprintf("%.3f ms (bare stub renewing at the same rate: %.3f ms)", float64(s.CPUPerElectionMinute)/1e6, float64(bare)/1e6), verdict(s.CPUPerElectionMinute <= 500*time.Microsecond)},
			row{fmt.Sprintf("%d elections: no leadership lapse", n), fmt.Sprintf("%d lapses", s.Lapses), verdict(s.Lapses == 0)},
		)
		fmt.Fprintf(os.Stderr, "scale %d done\n", n)
	}
	printTable(rows)
	fmt.Println()
	printRatios()
	return nil
}

func callRows(rounds int) ([]row, error) {
	var rows []row
	l, err := benchmark.NewLoopback()
	if err != nil {
		return nil, err
	}
	defer l.Close()
	for _, bm := range benchmark.Benchmarks {
		var bare, cl []testing.BenchmarkResult
		for range rounds { // interleaved, so drift in the machine hits both
			bare = append(bare, testing.Benchmark(func(b *testing.B) { bm.Bare(b, l) }))
			cl = append(cl, testing.Benchmark(func(b *testing.B) { bm.Client(b, l) }))
		}
		b, c := median(bare), median(cl)
		over := float64(c.NsPerOp())/float64(b.NsPerOp()) - 1
		bCPU, cCPU := medianOf(bare, cpuPerOp), medianOf(cl, cpuPerOp)
		ratios = append(ratios, ratio{
			measure: bm.Name + ": time per call (median)",
			bare:    time.Duration(b.NsPerOp()).String(),
			client:  time.Duration(c.NsPerOp()).String(),
			ratio:   fmt.Sprintf("%.3f", float64(c.NsPerOp())/float64(b.NsPerOp())),
			goal:    "<= 1.02",
			met:     over <= 0.02,
		}, ratio{
			measure: bm.Name + ": CPU per call (median)",
			bare:    time.Duration(bCPU).String(),
			client:  time.Duration(cCPU).String(),
			ratio:   fmt.Sprintf("%.3f", cCPU/bCPU),
			goal:    "(no goal; steadier than time)",
			met:     true,
		}, ratio{
			measure: bm.Name + ": allocations per call",
			bare:    strconv.FormatInt(b.AllocsPerOp(), 10),
			client:  strconv.FormatInt(c.AllocsPerOp(), 10),
			ratio:   fmt.Sprintf("%+d", c.AllocsPerOp()-b.AllocsPerOp()),
			goal:    "<= +10",
			met:     c.AllocsPerOp()-b.AllocsPerOp() <= 10,
		})
		rows = append(rows, row{
			fmt.Sprintf("%s: client within 2%% of bare stub (median)", bm.Name),
			fmt.Sprintf("bare %v, client %v (%+.1f%%); allocs/op %d vs %d, B/op %d vs %d",
				time.Duration(b.NsPerOp()), time.Duration(c.NsPerOp()), 100*over,
				b.AllocsPerOp(), c.AllocsPerOp(), b.AllocedBytesPerOp(), c.AllocedBytesPerOp()),
			verdict(over <= 0.02),
		})
		fmt.Fprintf(os.Stderr, "%s done\n", bm.Name)
	}
	return rows, nil
}

func takeoverRows(addr string, elections int, ttl time.Duration) ([]row, error) {
	f, err := benchmark.MeasureFailover(addr, elections, ttl)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "failover done")
	h, err := benchmark.MeasureHandover(addr, elections, ttl)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "handover done")
	return []row{{
		fmt.Sprintf("failover after a leader vanishes: p99 <= 1.1 x TTL (%v)", f.Bound),
		fmt.Sprintf("n=%d: median %v, p99 %v, max %v; %d failed", f.N, f.Median.Round(time.Millisecond), f.P99.Round(time.Millisecond), f.Max.Round(time.Millisecond), f.Failures),
		verdict(f.Failures == 0 && f.N > 0 && f.P99 <= f.Bound),
	}, {
		fmt.Sprintf("graceful handover: <= retry interval + 2 RTT (%v + 10ms)", h.RetryInterval),
		fmt.Sprintf("n=%d: median %v, p99 %v, max %v; %d failed", h.N, h.Median.Round(time.Millisecond), h.P99.Round(time.Millisecond), h.Max.Round(time.Millisecond), h.Failures),
		verdict(h.Failures == 0 && h.N > 0 && h.Max <= h.Bound),
	}}, nil
}

// ratio is one row of the ratio table: the client's figure beside the bare
// stub's from the same run.
type ratio struct {
	measure, bare, client, ratio, goal string
	met                                bool
}

var ratios []ratio

// printRatios prints the client/bare table: the call rows come from the
// interleaved rounds, the CPU rows from the scale measurement, each figure
// beside its baseline from the same run.
func printRatios() {
	fmt.Println("| client / bare stub | bare | client | ratio | goal | |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range ratios {
		v := verdict(r.met)
		if strings.HasPrefix(r.goal, "(") {
			v = ""
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", r.measure, r.bare, r.client, r.ratio, r.goal, v)
	}
}

func cpuPerOp(r testing.BenchmarkResult) float64 { return r.Extra["cpu-ns/op"] }

// medianOf returns the median of f over rs.
func medianOf(rs []testing.BenchmarkResult, f func(testing.BenchmarkResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func median(rs []testing.BenchmarkResult) testing.BenchmarkResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b testing.BenchmarkResult) int { return int(a.NsPerOp() - b.NsPerOp()) })
	return s[len(s)/2]
}

func printTable(rows []row) {
	fmt.Println("| goal | figure | |")
	fmt.Println("|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.goal, r.figure, r.verdict)
	}
}
