//go:build wasip1

// The canonical ABI of world `exporter` by hand: the exports of
// `wasmetheus:plugin/metrics@0.1.0`, the `host` imports and cabi_realloc.
// Results handed to the host stay referenced from `pinned` until the host
// is done with them (its cabi_post_* call), so Go's GC keeps them.

package sdk

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"unsafe"
)

const sandboxed = true

// adapterArenaSize must match ArenaSize in cmd/wasmetheus-go-patch: the
// memory the WASI adapter gets before the Go runtime runs.
const adapterArenaSize = 192 << 10

// adapterArena starts with the marker "wasmetheus-arena" the patch looks
// for; the adapter's state and stack live in mem.
var adapterArena = struct {
	magic [2]uint64
	mem   [adapterArenaSize]byte
}{magic: [2]uint64{0x656874656d736177, 0x616e6572612d7375}}

// arenaAddr keeps the arena in the binary: no Go code uses it otherwise.
var arenaAddr uintptr

func init() { arenaAddr = uintptr(unsafe.Pointer(&adapterArena)) }

var pinned = map[uint32][]uint64{}

func pin(words []uint64) uint32 {
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(words))))
	pinned[p] = words
	return p
}

func unpin(p uint32) { delete(pinned, p) }

func bytesAt(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n)
}

// The host writes into memory from cabi_realloc while it lowers the
// arguments of an export (the config given to open) and the results of an
// import (granted-read-paths…). No import may be called from there, and Go's
// allocator may (a GC assist reads the clock), so cabi_realloc hands out
// scratch memory allocated beforehand: a bump over `scratch`, reset once
// the values are copied out. A request that does not fit is allocated by
// Go with the GC off (it is off outside plugin code, see gcOff), and
// scratch grows at the next reset so that the next one fits.
var (
	scratch     = make([]uint64, 8<<10)
	scratchUsed uint32
	overflow    [64][]uint64
	overflows   int
	overflowMax uint32
	gcIsOn      bool
)

//go:wasmexport cabi_realloc
func cabiRealloc(old, oldSize, align, newSize uint32) uint32 {
	align = max(align, 1)
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(scratch))))
	start := (base + scratchUsed + align - 1) &^ (align - 1)
	var p uint32
	if uint64(start)+uint64(newSize) <= uint64(base)+uint64(len(scratch))*8 {
		p = start
		scratchUsed = start + newSize - base
	} else {
		if overflows == len(overflow) {
			panic("cabi_realloc: too many large host allocations at once")
		}
		words := make([]uint64, max((uint64(newSize)+7)/8, 1))
		overflow[overflows] = words
		overflows++
		overflowMax = max(overflowMax, newSize)
		p = uint32(uintptr(unsafe.Pointer(unsafe.SliceData(words))))
	}
	if old != 0 {
		copy(bytesAt(p, newSize), bytesAt(old, min(oldSize, newSize)))
	}
	return p
}

// resetScratch frees what cabi_realloc handed out; call it once the host's
// values are copied out, and before an import that returns some.
func resetScratch() {
	scratchUsed = 0
	for i := range overflows {
		overflow[i] = nil
	}
	overflows = 0
	if need := (uint64(overflowMax)+7)/8 + 64; need > uint64(len(scratch)) {
		scratch = make([]uint64, max(need, 2*uint64(len(scratch))))
	}
	overflowMax = 0
}

// gcPercent is GOGC while plugin code runs. Go's default (100, with a 4 MiB
// minimum heap) lets an exporter's memory grow for thousands of collects
// before the first cycle; an exporter's heap is small and a collect rare,
// so collecting often keeps the instance small and its memory flat.
const gcPercent = 10

// gcOn lets the GC run while plugin code runs; gcOff stops it (waiting for
// a running cycle to end), so that no GC work can happen in cabi_realloc.
func gcOn() {
	if !gcIsOn {
		debug.SetGCPercent(gcPercent)
		gcIsOn = true
	}
}

func gcOff() {
	if gcIsOn {
		debug.SetGCPercent(-1)
		gcIsOn = false
	}
}

func init() { debug.SetGCPercent(-1) }

// hostCall runs an import whose results the host allocates with
// cabi_realloc, with the GC off; take copies them out.
func hostCall(call func(), take func()) {
	was := gcIsOn
	gcOff()
	resetScratch()
	call()
	take()
	resetScratch()
	if was {
		gcOn()
	}
}

// place copies a lowering into pinned memory, fixes its pointers and
// returns its address.
func place(l *lowering) uint32 {
	words := make([]uint64, max((len(l.buf)+7)/8, 1))
	p := pin(words)
	mem := bytesAt(p, uint32(len(l.buf)))
	copy(mem, l.buf)
	for _, r := range l.relocs {
		v := uint32(mem[r]) | uint32(mem[r+1])<<8 | uint32(mem[r+2])<<16 | uint32(mem[r+3])<<24
		v += p
		mem[r], mem[r+1], mem[r+2], mem[r+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return p
}

var notExported = errors.New("the plugin did not register itself: call sdk.Export from an init function of package main")

//go:wasmexport wasmetheus:plugin/metrics@0.1.0#metadata
func exportMetadata() uint32 {
	m := Metadata{Description: notExported.Error()}
	if registered != nil {
		m = registered.Metadata
	}
	gcOn()
	defer gcOff()
	l := &lowering{}
	l.metadata(l.alloc(40, 8), &m)
	return place(l)
}

//go:wasmexport cabi_post_wasmetheus:plugin/metrics@0.1.0#metadata
func postMetadata(p uint32) { unpin(p) }

var (
	collectors = map[uint32]Collector{}
	nextRep    uint32
)

//go:wasmimport [export]wasmetheus:plugin/metrics@0.1.0 [resource-new]collector
func resourceNew(rep uint32) uint32

func safeOpen(config string) (c Collector, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("panic in Open: %v", p)
		}
	}()
	if registered == nil || registered.Open == nil {
		return nil, notExported
	}
	c, err = registered.Open(config)
	if err == nil && c == nil {
		err = errors.New("Open returned neither a Collector nor an error")
	}
	return c, err
}

//go:wasmexport wasmetheus:plugin/metrics@0.1.0#[static]collector.open
func exportOpen(ptr, n uint32) uint32 {
	config := string(bytesAt(ptr, n))
	resetScratch()
	gcOn()
	defer gcOff()
	c, err := safeOpen(config)
	l := &lowering{}
	ret := l.alloc(16, 8)
	if err != nil {
		l.u8(ret, 1)
		l.err(ret+4, err)
	} else {
		nextRep++
		for collectors[nextRep] != nil || nextRep == 0 {
			nextRep++
		}
		collectors[nextRep] = c
		l.u32(ret+4, resourceNew(nextRep))
	}
	return place(l)
}

//go:wasmexport cabi_post_wasmetheus:plugin/metrics@0.1.0#[static]collector.open
func postOpen(p uint32) { unpin(p) }

func safeCollect(c Collector, r *Registry) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in Collect: %v", p)
		}
	}()
	return c.Collect(r)
}

//go:wasmexport wasmetheus:plugin/metrics@0.1.0#[method]collector.collect
func exportCollect(rep uint32) uint32 {
	gcOn()
	defer gcOff()
	c := collectors[rep]
	if c == nil {
		return place(collectResult(nil, errors.New("unknown collector")))
	}
	r := NewRegistry()
	if err := safeCollect(c, r); err != nil {
		return place(collectResult(nil, err))
	}
	return place(collectResult(r.Families(), nil))
}

//go:wasmexport cabi_post_wasmetheus:plugin/metrics@0.1.0#[method]collector.collect
func postCollect(p uint32) { unpin(p) }

//go:wasmexport wasmetheus:plugin/metrics@0.1.0#[dtor]collector
func exportDrop(rep uint32) {
	// The GC stays off here: Close is short, and what it leaves is
	// collected during the next call.
	c := collectors[rep]
	delete(collectors, rep)
	if closer, ok := c.(io.Closer); ok {
		func() {
			defer func() { recover() }()
			closer.Close()
		}()
	}
}

//go:wasmimport wasmetheus:plugin/host@0.1.0 log
func importLog(level uint32, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmetheus:plugin/host@0.1.0 instance-name
func importInstanceName(ret unsafe.Pointer)

//go:wasmimport wasmetheus:plugin/host@0.1.0 granted-read-paths
func importGrantedReadPaths(ret unsafe.Pointer)

//go:wasmimport wasmetheus:plugin/host@0.1.0 filesystem-usage
func importFilesystemUsage(ptr unsafe.Pointer, n uint32, ret unsafe.Pointer)

// importRet is the return area of the imports (one call at a time).
var importRet [8]uint64

func retU32(off uintptr) uint32 {
	return *(*uint32)(unsafe.Add(unsafe.Pointer(&importRet[0]), off))
}

// takeString copies a string the host placed with cabi_realloc.
func takeString(ptr, n uint32) string {
	return string(bytesAt(ptr, n))
}

// validUTF8 keeps the host from rejecting a string (a trap).
func validUTF8(s string) []byte {
	l := &lowering{}
	l.str(l.alloc(8, 4), s)
	return l.buf[8:]
}

func hostLog(level Level, message string) {
	b := validUTF8(message)
	importLog(uint32(min(level, LevelError)), unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

func hostInstanceName() (name string) {
	hostCall(func() { importInstanceName(unsafe.Pointer(&importRet[0])) },
		func() { name = takeString(retU32(0), retU32(4)) })
	return name
}

// grantedCache holds the instance's grants, which are fixed for its life
// (the host builds them when it opens the instance): asked once, not per
// read.
var grantedCache []string

func hostGrantedReadPaths() []string {
	if grantedCache == nil {
		grantedCache = askGrantedReadPaths()
	}
	return append([]string(nil), grantedCache...)
}

func askGrantedReadPaths() (out []string) {
	hostCall(func() { importGrantedReadPaths(unsafe.Pointer(&importRet[0])) }, func() {
		list, n := retU32(0), retU32(4)
		out = make([]string, 0, n)
		for i := uint32(0); i < n; i++ {
			elem := unsafe.Pointer(uintptr(list + i*8))
			out = append(out, takeString(*(*uint32)(elem), *(*uint32)(unsafe.Add(elem, 4))))
		}
	})
	return out
}

func hostFilesystemUsage(mountPoint string) (MountUsage, error) {
	b := validUTF8(mountPoint)
	var failure *Error
	hostCall(func() {
		importFilesystemUsage(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)), unsafe.Pointer(&importRet[0]))
	}, func() {
		if importRet[0]&0xff != 0 {
			kind := ErrorKind(importRet[1] & 0xff)
			failure = &Error{Kind: min(kind, Other), Message: takeString(retU32(12), retU32(16))}
		}
	})
	if failure != nil {
		return MountUsage{}, failure
	}
	return MountUsage{
		SizeBytes:      importRet[1],
		FreeBytes:      importRet[2],
		AvailableBytes: importRet[3],
		Files:          importRet[4],
		FilesFree:      importRet[5],
		ReadOnly:       importRet[6]&0xff != 0,
	}, nil
}
