// Package wasmpatch prepares a Go `-buildmode=c-shared` wasip1 module for
// `wasm-tools component new` with the WASI preview 1 adapter.
//
// The adapter allocates its state (and wit-component its stack) through the
// main module's `cabi_realloc` on its first WASI call, which the Go runtime
// makes while it initializes, before any Go function may run. Memory grown
// by anyone but Go is later reused by Go's heap, so the adapter must get
// memory Go never hands out. Patch does that: it replaces the
// `cabi_realloc` export with a small function that, until `_initialize`
// returns, hands out memory from a static arena inside Go's data (found by
// the marker the SDK puts at its start), and afterwards calls Go's own
// `cabi_realloc`; `_initialize` is wrapped to flip that switch.
package wasmpatch

import (
	"bytes"
	"errors"
	"fmt"
)

// ArenaMagic marks the start of the SDK's adapter arena (two little-endian
// uint64 words, see the SDK's abi_wasip1.go); the arena's bytes follow it.
var ArenaMagic = []byte("wasmetheus-arena")

type section struct {
	id   byte
	body []byte
}

type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail("unexpected end of module at byte %d", r.pos)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("bad LEB128 at byte %d", r.pos)
	return 0
}

func (r *reader) s32() int32 {
	var v int64
	shift := 0
	for {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v)
		}
		if shift > 35 {
			r.fail("bad LEB128 at byte %d", r.pos)
			return 0
		}
	}
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil || uint64(r.pos)+uint64(n) > uint64(len(r.b)) {
		r.fail("unexpected end of module at byte %d", r.pos)
		return nil
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
		} else {
			return append(b, c)
		}
	}
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Patch returns module with the `cabi_realloc` shim described in the
// package documentation. The arena is arenaSize bytes after the marker.
func Patch(module []byte, arenaSize uint32) ([]byte, error) {
	if len(module) < 8 || !bytes.Equal(module[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly core module (a component or another file?)")
	}
	r := &reader{b: module, pos: 8}
	var sections []section
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		body := r.bytes(r.u32())
		sections = append(sections, section{id, body})
	}
	if r.err != nil {
		return nil, r.err
	}
	find := func(id byte) int {
		for i, s := range sections {
			if s.id == id {
				return i
			}
		}
		return -1
	}

	var importedFuncs, importedGlobals uint32
	if i := find(2); i >= 0 {
		r := &reader{b: sections[i].body}
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0:
				importedFuncs++
				r.u32()
			case 1: // table: reftype, limits
				r.byte()
				if r.byte()&1 != 0 {
					r.u32()
				}
				r.u32()
			case 2: // memory: limits
				if r.byte()&1 != 0 {
					r.u32()
				}
				r.u32()
			case 3:
				importedGlobals++
				r.byte()
				r.byte()
			default:
				r.fail("unknown import kind %d", kind)
			}
		}
		if r.err != nil {
			return nil, fmt.Errorf("import section: %w", r.err)
		}
	}

	fi := find(3)
	if fi < 0 {
		return nil, errors.New("module has no function section")
	}
	fr := &reader{b: sections[fi].body}
	nfuncs := fr.u32()
	funcsStart := fr.pos
	funcTypes := make([]uint32, 0, nfuncs)
	for i := uint32(0); i < nfuncs && fr.err == nil; i++ {
		funcTypes = append(funcTypes, fr.u32())
	}
	if fr.err != nil {
		return nil, fmt.Errorf("function section: %w", fr.err)
	}

	ei := find(7)
	if ei < 0 {
		return nil, errors.New("module has no exports; build it with -buildmode=c-shared")
	}
	type export struct {
		name  string
		kind  byte
		index uint32
	}
	er := &reader{b: sections[ei].body}
	var exports []export
	for n := er.u32(); n > 0 && er.err == nil; n-- {
		exports = append(exports, export{er.name(), er.byte(), er.u32()})
	}
	if er.err != nil {
		return nil, fmt.Errorf("export section: %w", er.err)
	}
	goRealloc, goInit := -1, -1
	for i, e := range exports {
		if e.kind == 0 && e.name == "cabi_realloc" {
			goRealloc = i
		}
		if e.kind == 0 && e.name == "_initialize" {
			goInit = i
		}
	}
	if goRealloc < 0 {
		return nil, errors.New("module does not export cabi_realloc: import wasmetheus.dev/sdk in package main")
	}
	if goInit < 0 {
		return nil, errors.New("module does not export _initialize: build it with -buildmode=c-shared")
	}
	typeOf := func(fn uint32) (uint32, error) {
		if fn < importedFuncs || fn-importedFuncs >= uint32(len(funcTypes)) {
			return 0, fmt.Errorf("export refers to function %d, which the module does not define", fn)
		}
		return funcTypes[fn-importedFuncs], nil
	}
	reallocType, err := typeOf(exports[goRealloc].index)
	if err != nil {
		return nil, err
	}
	initType, err := typeOf(exports[goInit].index)
	if err != nil {
		return nil, err
	}

	// The arena: the marker in an active data segment of memory 0.
	di := find(11)
	if di < 0 {
		return nil, errors.New("module has no data section")
	}
	var arena uint32
	found := false
	dr := &reader{b: sections[di].body}
	for n := dr.u32(); n > 0 && dr.err == nil && !found; n-- {
		flags := dr.u32()
		if flags == 1 {
			dr.bytes(dr.u32())
			continue
		}
		if flags == 2 {
			dr.u32()
		}
		if dr.byte() != 0x41 {
			return nil, errors.New("data segment offset is not an i32.const")
		}
		offset := uint32(dr.s32())
		if dr.byte() != 0x0b {
			return nil, errors.New("data segment offset expression is not a single constant")
		}
		data := dr.bytes(dr.u32())
		if at := bytes.Index(data, ArenaMagic); at >= 0 {
			arena = offset + uint32(at) + uint32(len(ArenaMagic))
			found = true
		}
	}
	if dr.err != nil {
		return nil, fmt.Errorf("data section: %w", dr.err)
	}
	if !found {
		return nil, errors.New("the SDK's adapter arena is missing: import wasmetheus.dev/sdk in package main")
	}
	if arena%8 != 0 {
		return nil, fmt.Errorf("the adapter arena at %d is not 8-byte aligned", arena)
	}
	arenaEnd := arena + arenaSize

	// Two globals: "Go is initialized" and the arena's bump pointer.
	var ready, bump uint32
	var globals []byte
	if gi := find(6); gi >= 0 {
		gr := &reader{b: sections[gi].body}
		n := gr.u32()
		if gr.err != nil {
			return nil, fmt.Errorf("global section: %w", gr.err)
		}
		ready = importedGlobals + n
		globals = appendU32(nil, n+2)
		globals = append(globals, sections[gi].body[gr.pos:]...)
	} else {
		ready = importedGlobals
		globals = appendU32(nil, 2)
	}
	bump = ready + 1
	globals = append(globals, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	globals = append(globals, 0x7f, 0x01, 0x41)
	globals = appendS32(globals, int32(arena))
	globals = append(globals, 0x0b)

	shim := importedFuncs + nfuncs
	initShim := shim + 1
	functions := appendU32(nil, nfuncs+2)
	functions = append(functions, sections[fi].body[funcsStart:]...)
	functions = appendU32(functions, reallocType)
	functions = appendU32(functions, initType)

	var exps []byte
	exps = appendU32(exps, uint32(len(exports)))
	for i, e := range exports {
		index := e.index
		switch i {
		case goRealloc:
			index = shim
		case goInit:
			index = initShim
		}
		exps = appendU32(exps, uint32(len(e.name)))
		exps = append(exps, e.name...)
		exps = append(exps, e.kind)
		exps = appendU32(exps, index)
	}

	// cabi_realloc(old, old_size, align, new_size) -> ptr
	var body []byte
	body = append(body, 0x01, 0x01, 0x7f) // one i32 local: $ptr (local 4)
	body = append(body, 0x23)
	body = appendU32(body, ready)
	body = append(body, 0x04, 0x7f) // if (result i32)
	body = append(body, 0x20, 0, 0x20, 1, 0x20, 2, 0x20, 3, 0x10)
	body = appendU32(body, exports[goRealloc].index)
	body = append(body, 0x05) // else: bump allocation, never a reallocation
	body = append(body, 0x20, 0, 0x04, 0x40, 0x00, 0x0b)
	body = append(body, 0x23)
	body = appendU32(body, bump)
	body = append(body, 0x20, 2, 0x6a, 0x41, 1, 0x6b, 0x41, 0, 0x20, 2, 0x6b, 0x71, 0x21, 4)
	body = append(body, 0x20, 4, 0x20, 3, 0x6a, 0x41)
	body = appendS32(body, int32(arenaEnd))
	body = append(body, 0x4b, 0x04, 0x40, 0x00, 0x0b) // past the end: trap
	body = append(body, 0x20, 4, 0x20, 3, 0x6a, 0x24)
	body = appendU32(body, bump)
	body = append(body, 0x20, 4, 0x0b, 0x0b)

	var initBody []byte
	initBody = append(initBody, 0x00, 0x10)
	initBody = appendU32(initBody, exports[goInit].index)
	initBody = append(initBody, 0x41, 1, 0x24)
	initBody = appendU32(initBody, ready)
	initBody = append(initBody, 0x0b)

	ci := find(10)
	if ci < 0 {
		return nil, errors.New("module has no code section")
	}
	cr := &reader{b: sections[ci].body}
	ncode := cr.u32()
	if cr.err != nil || ncode != nfuncs {
		return nil, errors.New("code and function sections disagree")
	}
	code := appendU32(nil, ncode+2)
	code = append(code, sections[ci].body[cr.pos:]...)
	code = appendU32(code, uint32(len(body)))
	code = append(code, body...)
	code = appendU32(code, uint32(len(initBody)))
	code = append(code, initBody...)

	sections[fi].body = functions
	sections[ei].body = exps
	sections[ci].body = code
	if gi := find(6); gi >= 0 {
		sections[gi].body = globals
	} else {
		// The global section goes after the memory section (id 5).
		at := len(sections)
		for i, s := range sections {
			if s.id != 0 && s.id > 6 && s.id != 12 {
				at = i
				break
			}
		}
		sections = append(sections[:at], append([]section{{6, globals}}, sections[at:]...)...)
	}

	out := append([]byte(nil), module[:8]...)
	for _, s := range sections {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out, nil
}
