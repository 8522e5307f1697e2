// Command wasmetheus-go-patch prepares a Go wasip1 `-buildmode=c-shared`
// module built with wasmetheus.dev/sdk for `wasm-tools component new`
// (see package wasmpatch for why):
//
//	wasmetheus-go-patch core.wasm patched.wasm
package main

import (
	"fmt"
	"os"

	"wasmetheus.dev/sdk/internal/wasmpatch"
)

// ArenaSize must match adapterArenaSize in the SDK's abi_wasip1.go.
const ArenaSize = 192 << 10

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wasmetheus-go-patch IN.wasm OUT.wasm")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmetheus-go-patch:", err)
		os.Exit(1)
	}
	out, err := wasmpatch.Patch(in, ArenaSize)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmetheus-go-patch: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "wasmetheus-go-patch:", err)
		os.Exit(1)
	}
}
