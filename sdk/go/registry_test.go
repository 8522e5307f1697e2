// Tests of the registry builder.

package sdk

import "testing"

func TestSameNameAppendsToOneFamily(t *testing.T) {
	r := NewRegistry()
	r.Counter("c", "h").With(1, "a", "1")
	r.Counter("c", "other help is ignored").With(2, "a", "2")
	r.Gauge("g", "h").Unit("bytes").Set(3)
	if len(r.Families()) != 2 {
		t.Fatalf("want 2 families, got %d", len(r.Families()))
	}
	c := r.Get("c")
	if len(c.Metrics) != 2 || c.Help != "h" || c.Kind != Counter {
		t.Fatalf("got %+v", c)
	}
	if v, ok := c.Metrics[1].Label("a"); !ok || v != "2" || c.Metrics[1].Number != 2 {
		t.Fatalf("got %+v", c.Metrics[1])
	}
	if g := r.Get("g"); g.Unit != "bytes" || g.Metrics[0].Number != 3 || len(g.Metrics[0].Labels) != 0 {
		t.Fatalf("got %+v", g)
	}
	if r.Get("missing") != nil {
		t.Fatal("a missing family must be nil")
	}
}

func TestEveryKind(t *testing.T) {
	r := NewRegistry()
	r.Untyped("u", "h").Set(1)
	r.Info("build", "h").Info("version", "1.2.3", "revision")
	r.Histogram("latency", "h").Unit("seconds").ObserveHistogram(Histogram{
		Buckets: []Bucket{{0.1, 1}, {1, 3}}, Count: 4, Sum: 2.5,
	}, "route", "/")
	r.Summary("rpc", "h").ObserveSummary(Summary{Quantiles: []Quantile{{0.5, 0.2}}, Count: 9, Sum: 3})
	kinds := map[string]Kind{"u": Untyped, "build": Info, "latency": HistogramKind, "rpc": SummaryKind}
	for name, kind := range kinds {
		if got := r.Get(name).Kind; got != kind {
			t.Errorf("%s: kind %d, want %d", name, got, kind)
		}
	}
	info := r.Get("build").Metrics[0]
	if info.Number != 1 || len(info.Labels) != 2 || info.Labels[1] != (Label{"revision", ""}) {
		t.Fatalf("an info series is valued 1 and a trailing name gets an empty value: %+v", info)
	}
	if h := r.Get("latency").Metrics[0].Histogram; h == nil || h.Count != 4 || len(h.Buckets) != 2 {
		t.Fatalf("got %+v", h)
	}
	if s := r.Get("rpc").Metrics[0].Summary; s == nil || s.Quantiles[0].Value != 0.2 {
		t.Fatalf("got %+v", s)
	}
}
