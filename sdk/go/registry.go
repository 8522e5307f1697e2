// The output of one collection: metric families built with a small builder.

package sdk

// Kind is the type of a metric family (OpenMetrics' types).
type Kind uint8

const (
	Counter Kind = iota
	Gauge
	Untyped
	HistogramKind
	SummaryKind
	Info
	StateSet
	GaugeHistogram
)

// Label is one label of a series.
type Label struct {
	Name, Value string
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound      float64
	CumulativeCount uint64
}

// Histogram is a classic histogram; the host adds the +Inf bucket from
// Count when it is missing.
type Histogram struct {
	Buckets []Bucket
	Count   uint64
	Sum     float64
}

// Quantile is one quantile of a summary.
type Quantile struct {
	Quantile, Value float64
}

// Summary is precomputed quantiles plus count and sum.
type Summary struct {
	Quantiles []Quantile
	Count     uint64
	Sum       float64
}

// Metric is one series: its labels and value (Histogram or Summary when
// set, else Number).
type Metric struct {
	Labels    []Label
	Number    float64
	Histogram *Histogram
	Summary   *Summary
	// TimestampMs is milliseconds since the Unix epoch; nil means "at
	// scrape time".
	TimestampMs *int64
}

// Label returns the value of the label name and whether it is present.
func (m *Metric) Label(name string) (string, bool) {
	for _, l := range m.Labels {
		if l.Name == name {
			return l.Value, true
		}
	}
	return "", false
}

// Family is every series sharing one name, kind, help and unit. The host
// exposes a counter `foo` as `foo_total` unless Name already ends in
// `_total`, and an info family `foo` as `foo_info` unless Name already ends
// in `_info`; other kinds under Name.
type Family struct {
	Name    string
	Kind    Kind
	Help    string
	Unit    string
	Metrics []Metric
}

// Registry collects the families of one collection, in insertion order.
type Registry struct {
	families []*Family
	byName   map[string]*Family
}

// NewRegistry returns an empty registry (Collect gets one from the host).
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*Family{}}
}

// Family returns a builder for the family name, created with kind and help
// on first use; later calls with the same name add series to it.
func (r *Registry) Family(name string, kind Kind, help string) FamilyBuilder {
	f, ok := r.byName[name]
	if !ok {
		f = &Family{Name: name, Kind: kind, Help: help}
		r.byName[name] = f
		r.families = append(r.families, f)
	}
	return FamilyBuilder{f}
}

func (r *Registry) Counter(name, help string) FamilyBuilder {
	return r.Family(name, Counter, help)
}

func (r *Registry) Gauge(name, help string) FamilyBuilder {
	return r.Family(name, Gauge, help)
}

func (r *Registry) Untyped(name, help string) FamilyBuilder {
	return r.Family(name, Untyped, help)
}

func (r *Registry) Histogram(name, help string) FamilyBuilder {
	return r.Family(name, HistogramKind, help)
}

func (r *Registry) Summary(name, help string) FamilyBuilder {
	return r.Family(name, SummaryKind, help)
}

// Info returns an info family: series valued 1 whose labels carry the
// information (add them with [FamilyBuilder.Info]).
func (r *Registry) Info(name, help string) FamilyBuilder {
	return r.Family(name, Info, help)
}

// Families returns the families in insertion order.
func (r *Registry) Families() []*Family { return r.families }

// Get returns the family name, or nil; handy in tests.
func (r *Registry) Get(name string) *Family { return r.byName[name] }

// FamilyBuilder adds series to one family of a Registry.
type FamilyBuilder struct {
	f *Family
}

// labels turns name, value pairs into labels; a trailing name without a
// value gets the empty value.
func labels(pairs []string) []Label {
	if len(pairs) == 0 {
		return nil
	}
	out := make([]Label, 0, (len(pairs)+1)/2)
	for i := 0; i < len(pairs); i += 2 {
		l := Label{Name: pairs[i]}
		if i+1 < len(pairs) {
			l.Value = pairs[i+1]
		}
		out = append(out, l)
	}
	return out
}

// Unit sets the OpenMetrics unit (e.g. "seconds").
func (b FamilyBuilder) Unit(unit string) FamilyBuilder {
	b.f.Unit = unit
	return b
}

// Set adds the series without labels.
func (b FamilyBuilder) Set(value float64) FamilyBuilder {
	return b.With(value)
}

// With adds one series valued value, with labels given as name, value
// pairs: With(3, "device", "sda").
func (b FamilyBuilder) With(value float64, labelPairs ...string) FamilyBuilder {
	b.f.Metrics = append(b.f.Metrics, Metric{Labels: labels(labelPairs), Number: value})
	return b
}

// WithLabels adds one series with labels already built.
func (b FamilyBuilder) WithLabels(value float64, ls []Label) FamilyBuilder {
	b.f.Metrics = append(b.f.Metrics, Metric{Labels: ls, Number: value})
	return b
}

// Info adds one info series (valued 1) with labels as name, value pairs.
func (b FamilyBuilder) Info(labelPairs ...string) FamilyBuilder {
	return b.With(1, labelPairs...)
}

// ObserveHistogram adds one histogram series.
func (b FamilyBuilder) ObserveHistogram(h Histogram, labelPairs ...string) FamilyBuilder {
	b.f.Metrics = append(b.f.Metrics, Metric{Labels: labels(labelPairs), Histogram: &h})
	return b
}

// ObserveSummary adds one summary series.
func (b FamilyBuilder) ObserveSummary(s Summary, labelPairs ...string) FamilyBuilder {
	b.f.Metrics = append(b.f.Metrics, Metric{Labels: labels(labelPairs), Summary: &s})
	return b
}
