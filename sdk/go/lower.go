// Lowering plugin values into the component model's canonical ABI layout
// (wasm32): one buffer per call, with the offsets of every pointer in it so
// the buffer can be placed anywhere (abi_wasip1.go adds its address).
//
// Layouts (size/alignment) of world `exporter`, from wit/plugin.wit:
// string and list: {ptr u32, len u32} 8/4; label 16/4; metric-family 36/4
// {name 0, kind u8 8, help 12, unit 20, metrics 28}; metric 56/8 {labels 0,
// value 8, timestamp-ms 40}; metric-value 32/8 {case u8 0, payload 8};
// histogram-value and summary-value 24/8 {list 0, count 8, sum 16}; bucket
// and quantile 16/8; option<s64> 16/8 {is-some u8 0, value 8};
// error 12/4 {case u8 0, string 4}; capability 12/4; capability-request
// 24/4 {capability 0, reason 12, optional u8 20}; plugin-metadata 40/4
// {name 0, version 8, description 16, config-schema 24, capabilities 32};
// result<T, error> 16/4 {case u8 0, payload 4}.

package sdk

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"unicode/utf8"
)

type lowering struct {
	buf    []byte
	relocs []uint32 // offsets of the pointers in buf
}

// alloc reserves size zeroed bytes aligned to align and returns their offset.
func (l *lowering) alloc(size, align int) uint32 {
	for len(l.buf)%align != 0 {
		l.buf = append(l.buf, 0)
	}
	off := len(l.buf)
	l.buf = append(l.buf, make([]byte, size)...)
	return uint32(off)
}

func (l *lowering) u8(off uint32, v uint8)    { l.buf[off] = v }
func (l *lowering) u32(off uint32, v uint32)  { binary.LittleEndian.PutUint32(l.buf[off:], v) }
func (l *lowering) u64(off uint32, v uint64)  { binary.LittleEndian.PutUint64(l.buf[off:], v) }
func (l *lowering) f64(off uint32, v float64) { l.u64(off, math.Float64bits(v)) }

// list writes a list header at off for n elements of size/align and returns
// the offset of the first element.
func (l *lowering) list(off uint32, n, size, align int) uint32 {
	at := l.alloc(n*size, align)
	l.u32(off, at)
	l.relocs = append(l.relocs, off)
	l.u32(off+4, uint32(n))
	return at
}

// str writes a string at off; invalid UTF-8 (which the host would reject by
// trapping) becomes U+FFFD.
func (l *lowering) str(off uint32, s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	at := l.list(off, len(s), 1, 1)
	copy(l.buf[at:], s)
}

func (l *lowering) families(off uint32, fams []*Family) {
	at := l.list(off, len(fams), 36, 4)
	for i, f := range fams {
		fo := at + uint32(i)*36
		l.str(fo, f.Name)
		l.u8(fo+8, uint8(f.Kind))
		l.str(fo+12, f.Help)
		l.str(fo+20, f.Unit)
		ms := l.list(fo+28, len(f.Metrics), 56, 8)
		for j := range f.Metrics {
			l.metric(ms+uint32(j)*56, &f.Metrics[j])
		}
	}
}

func (l *lowering) metric(mo uint32, m *Metric) {
	ls := l.list(mo, len(m.Labels), 16, 4)
	for k, lab := range m.Labels {
		l.str(ls+uint32(k)*16, lab.Name)
		l.str(ls+uint32(k)*16+8, lab.Value)
	}
	switch {
	case m.Histogram != nil:
		l.u8(mo+8, 1)
		bs := l.list(mo+16, len(m.Histogram.Buckets), 16, 8)
		for k, b := range m.Histogram.Buckets {
			l.f64(bs+uint32(k)*16, b.UpperBound)
			l.u64(bs+uint32(k)*16+8, b.CumulativeCount)
		}
		l.u64(mo+24, m.Histogram.Count)
		l.f64(mo+32, m.Histogram.Sum)
	case m.Summary != nil:
		l.u8(mo+8, 2)
		qs := l.list(mo+16, len(m.Summary.Quantiles), 16, 8)
		for k, q := range m.Summary.Quantiles {
			l.f64(qs+uint32(k)*16, q.Quantile)
			l.f64(qs+uint32(k)*16+8, q.Value)
		}
		l.u64(mo+24, m.Summary.Count)
		l.f64(mo+32, m.Summary.Sum)
	default:
		l.u8(mo+8, 0)
		l.f64(mo+16, m.Number)
	}
	if m.TimestampMs != nil {
		l.u8(mo+40, 1)
		l.u64(mo+48, uint64(*m.TimestampMs))
	}
}

// err writes the WIT error for e at off.
func (l *lowering) err(off uint32, e error) {
	var known *Error
	if errors.As(e, &known) {
		l.u8(off, uint8(min(known.Kind, Other)))
		l.str(off+4, known.Message)
		return
	}
	l.u8(off, uint8(Other))
	l.str(off+4, e.Error())
}

func (l *lowering) metadata(off uint32, m *Metadata) {
	l.str(off, m.Name)
	l.str(off+8, m.Version)
	l.str(off+16, m.Description)
	l.str(off+24, m.ConfigSchema)
	cs := l.list(off+32, len(m.Capabilities), 24, 4)
	for i, c := range m.Capabilities {
		co := cs + uint32(i)*24
		l.u8(co, uint8(c.Capability.Kind))
		if c.Capability.Kind != DNSLookupCapability {
			l.str(co+4, c.Capability.Target)
		}
		l.str(co+12, c.Reason)
		if c.Optional {
			l.u8(co+20, 1)
		}
	}
}

// collectResult lowers result<list<metric-family>, error>.
func collectResult(fams []*Family, e error) *lowering {
	l := &lowering{}
	ret := l.alloc(16, 8)
	if e != nil {
		l.u8(ret, 1)
		l.err(ret+4, e)
	} else {
		l.families(ret+4, fams)
	}
	return l
}
