// Tests of the canonical ABI lowering: values are read back at the offsets
// the component model's layout rules give (see lower.go).

package sdk

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

type view struct{ l *lowering }

func (v view) u8(off uint32) uint8   { return v.l.buf[off] }
func (v view) u32(off uint32) uint32 { return binary.LittleEndian.Uint32(v.l.buf[off:]) }
func (v view) u64(off uint32) uint64 { return binary.LittleEndian.Uint64(v.l.buf[off:]) }
func (v view) f64(off uint32) float64 {
	return math.Float64frombits(v.u64(off))
}

// list checks a pointer was recorded at off and returns (target, length).
func (v view) list(t *testing.T, off uint32, align uint32) (uint32, uint32) {
	t.Helper()
	found := false
	for _, r := range v.l.relocs {
		found = found || r == off
	}
	if !found {
		t.Fatalf("no pointer recorded at %d", off)
	}
	at, n := v.u32(off), v.u32(off+4)
	if at%align != 0 || int(at) > len(v.l.buf) {
		t.Fatalf("pointer %d at %d is misaligned or out of the buffer", at, off)
	}
	return at, n
}

func (v view) str(t *testing.T, off uint32) string {
	at, n := v.list(t, off, 1)
	return string(v.l.buf[at : at+n])
}

func TestCollectResultLayout(t *testing.T) {
	ts := int64(-5)
	r := NewRegistry()
	r.Gauge("g", "help g").Unit("bytes").With(2.5, "a", "x")
	r.Family("h", HistogramKind, "").ObserveHistogram(Histogram{Buckets: []Bucket{{0.5, 7}}, Count: 9, Sum: 1.5})
	r.Summary("s", "").ObserveSummary(Summary{Quantiles: []Quantile{{0.9, 4}}, Count: 3, Sum: 6})
	r.Get("g").Metrics[0].TimestampMs = &ts
	v := view{collectResult(r.Families(), nil)}
	if v.u8(0) != 0 {
		t.Fatal("ok is case 0")
	}
	fams, n := v.list(t, 4, 4)
	if n != 3 {
		t.Fatalf("%d families", n)
	}
	if v.str(t, fams) != "g" || v.u8(fams+8) != uint8(Gauge) || v.str(t, fams+12) != "help g" || v.str(t, fams+20) != "bytes" {
		t.Fatal("family g")
	}
	ms, n := v.list(t, fams+28, 8)
	if n != 1 {
		t.Fatal("one metric")
	}
	labels, n := v.list(t, ms, 4)
	if n != 1 || v.str(t, labels) != "a" || v.str(t, labels+8) != "x" {
		t.Fatal("labels")
	}
	if v.u8(ms+8) != 0 || v.f64(ms+16) != 2.5 {
		t.Fatal("number value")
	}
	if v.u8(ms+40) != 1 || int64(v.u64(ms+48)) != -5 {
		t.Fatal("timestamp")
	}
	h := fams + 36
	hm, _ := v.list(t, h+28, 8)
	if v.u8(hm+8) != 1 || v.u64(hm+24) != 9 || v.f64(hm+32) != 1.5 || v.u8(hm+40) != 0 {
		t.Fatal("histogram value")
	}
	bs, n := v.list(t, hm+16, 8)
	if n != 1 || v.f64(bs) != 0.5 || v.u64(bs+8) != 7 {
		t.Fatal("buckets")
	}
	sm, _ := v.list(t, fams+72+28, 8)
	qs, _ := v.list(t, sm+16, 8)
	if v.u8(sm+8) != 2 || v.u64(sm+24) != 3 || v.f64(qs) != 0.9 || v.f64(qs+8) != 4 {
		t.Fatal("summary value")
	}
}

func TestErrorLayout(t *testing.T) {
	cases := []struct {
		err  error
		kind uint8
		msg  string
	}{
		{Errorf(InvalidConfig, "bad %s", "x"), 0, "bad x"},
		{Errorf(Denied, "read path /proc"), 1, "read path /proc"},
		{Errorf(Unavailable, "down"), 2, "down"},
		{errors.New("plain"), 3, "plain"},
		{&Error{Kind: 200, Message: "odd"}, 3, "odd"},
	}
	for _, c := range cases {
		v := view{collectResult(nil, c.err)}
		if v.u8(0) != 1 || v.u8(4) != c.kind || v.str(t, 8) != c.msg {
			t.Errorf("%v: case %d kind %d msg %q", c.err, v.u8(0), v.u8(4), v.str(t, 8))
		}
	}
}

func TestInvalidUTF8IsReplaced(t *testing.T) {
	r := NewRegistry()
	r.Gauge("g", "bad \xff byte").With(1, "l", "\xc3")
	v := view{collectResult(r.Families(), nil)}
	fams, _ := v.list(t, 4, 4)
	if got := v.str(t, fams+12); got != "bad \uFFFD byte" {
		t.Fatalf("help %q", got)
	}
}

func TestMetadataLayout(t *testing.T) {
	m := Metadata{Name: "n", Version: "1", Description: "d", ConfigSchema: "{}",
		Capabilities: []CapabilityRequest{
			Require(ReadPath("/proc"), "why"),
			Optionally(DNSLookup(), "names"),
			Require(FilesystemUsage("/"), "df"),
		}}
	l := &lowering{}
	l.metadata(l.alloc(40, 8), &m)
	v := view{l}
	if v.str(t, 0) != "n" || v.str(t, 8) != "1" || v.str(t, 16) != "d" || v.str(t, 24) != "{}" {
		t.Fatal("strings")
	}
	cs, n := v.list(t, 32, 4)
	if n != 3 {
		t.Fatal("3 capabilities")
	}
	if v.u8(cs) != 0 || v.str(t, cs+4) != "/proc" || v.str(t, cs+12) != "why" || v.u8(cs+20) != 0 {
		t.Fatal("read-path request")
	}
	if v.u8(cs+24) != 4 || v.str(t, cs+24+12) != "names" || v.u8(cs+24+20) != 1 {
		t.Fatal("dns-lookup request")
	}
	if v.u8(cs+48) != 5 || v.str(t, cs+48+4) != "/" {
		t.Fatal("filesystem-usage request")
	}
}
