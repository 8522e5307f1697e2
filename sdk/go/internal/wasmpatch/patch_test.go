// Tests of the cabi_realloc patch on a small hand-made module.

package wasmpatch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sec(id byte, body ...byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(body))), body...)
}

func vec(items ...[]byte) []byte {
	out := appendU32(nil, uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func name(s string) []byte { return append(appendU32(nil, uint32(len(s))), s...) }

// module is what Go's c-shared build looks like to the patch: an import,
// cabi_realloc and _initialize exports, a global, the marker in data.
func module(marker []byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1, vec(
		[]byte{0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f},
		[]byte{0x60, 0, 0},
	)...)...)
	m = append(m, sec(2, vec(
		append(append(name("env"), name("f")...), 0, 1),
	)...)...)
	m = append(m, sec(3, vec([]byte{0}, []byte{1})...)...)
	m = append(m, sec(5, vec([]byte{0, 1})...)...)
	m = append(m, sec(6, vec([]byte{0x7f, 1, 0x41, 0, 0x0b})...)...)
	m = append(m, sec(7, vec(
		append(name("cabi_realloc"), 0, 1),
		append(name("_initialize"), 0, 2),
		append(name("memory"), 2, 0),
	)...)...)
	m = append(m, sec(10, vec(
		[]byte{4, 0, 0x41, 8, 0x0b},
		[]byte{2, 0, 0x0b},
	)...)...)
	data := append(make([]byte, 8), marker...)
	seg := append([]byte{0, 0x41}, appendS32(nil, 1000)...)
	seg = append(seg, 0x0b)
	seg = append(seg, appendU32(nil, uint32(len(data)))...)
	seg = append(seg, data...)
	m = append(m, sec(11, vec(seg)...)...)
	return m
}

func TestPatch(t *testing.T) {
	out, err := Patch(module(ArenaMagic), 4096)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{b: out, pos: 8}
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		body := &reader{b: r.bytes(r.u32())}
		switch id {
		case 3:
			if n := body.u32(); n != 4 {
				t.Errorf("%d functions, want 4", n)
			}
		case 6:
			if n := body.u32(); n != 3 {
				t.Errorf("%d globals, want 3", n)
			}
			body.bytes(5 + 5)
			body.byte()
			body.byte()
			body.byte()
			if at := body.s32(); at != 1024 {
				t.Errorf("arena at %d, want 1024", at)
			}
		case 7:
			for n := body.u32(); n > 0; n-- {
				nm, kind, index := body.name(), body.byte(), body.u32()
				want := map[string]uint32{"cabi_realloc": 3, "_initialize": 4, "memory": 0}[nm]
				if index != want {
					t.Errorf("export %s (kind %d) -> %d, want %d", nm, kind, index, want)
				}
			}
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	// With wasm-tools at hand (cargo xtask toolchains go), validate it too.
	tools := os.Getenv("WASMETHEUS_TOOLS")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache/wasmetheus/tools")
	}
	wasmTools := filepath.Join(tools, "cargo/bin/wasm-tools")
	if _, err := os.Stat(wasmTools); err != nil {
		t.Skip("wasm-tools not installed; structure checked only")
	}
	file := filepath.Join(t.TempDir(), "patched.wasm")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(wasmTools, "validate", file).CombinedOutput(); err != nil {
		t.Fatalf("wasm-tools validate: %v\n%s", err, msg)
	}
}

func TestRefusals(t *testing.T) {
	good := module(ArenaMagic)
	cases := map[string]struct {
		module []byte
		want   string
	}{
		"empty":      {nil, "not a WebAssembly core module"},
		"component":  {[]byte("\x00asm\x0d\x00\x01\x00"), "not a WebAssembly core module"},
		"truncated":  {good[:len(good)-3], "unexpected end"},
		"no marker":  {module([]byte("something-else!!")), "arena is missing"},
		"no realloc": {bytes.Replace(good, []byte("cabi_realloc"), []byte("cabi_reallox"), 1), "does not export cabi_realloc"},
		"no init":    {bytes.Replace(good, []byte("_initialize"), []byte("_initializX"), 1), "does not export _initialize"},
	}
	for label, c := range cases {
		_, err := Patch(c.module, 4096)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", label, err, c.want)
		}
	}
	if _, err := Patch(bytes.Repeat([]byte{0xff}, 1<<20), 4096); err == nil {
		t.Error("1 MiB of garbage must be refused")
	}
}
