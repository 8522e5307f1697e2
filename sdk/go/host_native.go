//go:build !wasip1

// Native stand-ins for the host imports, so plugins test with `go test`.

package sdk

import (
	"fmt"
	"os"
)

const sandboxed = false

func hostLog(level Level, message string) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", level, message)
}

func hostInstanceName() string { return "" }

func hostGrantedReadPaths() []string {
	if nativeGrants == nil {
		return nil
	}
	return append([]string{}, nativeGrants...)
}

func hostFilesystemUsage(mountPoint string) (MountUsage, error) {
	return MountUsage{}, Errorf(Unavailable, "filesystem usage of %s needs the wasmetheus host", mountPoint)
}
