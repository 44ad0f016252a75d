package otelmetrics_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/quorum-quest/client-go/otelmetrics"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// describingProvider notes every instrument created through it as
// "name kind unit".
type describingProvider struct {
	noop.MeterProvider
	seen *[]string
}

func (p describingProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return describingMeter{seen: p.seen}
}

type describingMeter struct {
	noop.Meter
	seen *[]string
}

func (m describingMeter) note(name, kind, unit string) {
	*m.seen = append(*m.seen, fmt.Sprintf("%s %s %s", name, kind, unit))
}

func (m describingMeter) Int64Counter(name string, opts ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	m.note(name, "counter", metric.NewInt64CounterConfig(opts...).Unit())
	return m.Meter.Int64Counter(name, opts...)
}

func (m describingMeter) Int64ObservableGauge(name string, opts ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	m.note(name, "gauge", metric.NewInt64ObservableGaugeConfig(opts...).Unit())
	return m.Meter.Int64ObservableGauge(name, opts...)
}

func (m describingMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	m.note(name, "histogram", metric.NewFloat64HistogramConfig(opts...).Unit())
	return m.Meter.Float64Histogram(name, opts...)
}

// documented finds the instrument table's rows in a file: a name, its
// kind and its unit.
func documented(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)`?(quorumquest\\.election\\.[a-z_.]+)`?\\s*\\|?\\s*(gauge|counter|histogram)\\s*\\|?\\s*`?([^\\s`|]+)`?")
	var out []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		out = append(out, fmt.Sprintf("%s %s %s", m[1], m[2], m[3]))
	}
	return out
}

// The package documentation and the README list exactly the instruments
// the package creates, with their kinds and units.
func TestInstrumentsDocumented(t *testing.T) {
	var seen []string
	c, err := newWith(otelmetrics.Option(describingProvider{seen: &seen}))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	slices.Sort(seen)
	if len(seen) != 7 {
		t.Fatalf("created %d instruments, want 7: %v", len(seen), seen)
	}
	for _, path := range []string{"doc.go", "../README.md"} {
		docs := documented(t, path)
		slices.Sort(docs)
		if !slices.Equal(docs, seen) {
			t.Errorf("%s documents\n  %v\nthe package creates\n  %v", path, docs, seen)
		}
	}
}
