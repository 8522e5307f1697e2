// Reading granted files and asking the host for file-system usage.

package sdk

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// MountUsage is the usage of one mounted file system, from statvfs.
type MountUsage struct {
	SizeBytes, FreeBytes, AvailableBytes, Files, FilesFree uint64
	ReadOnly                                               bool
}

// GrantedReadPaths is the read-only paths the host granted this instance;
// natively, none.
func GrantedReadPaths() []string {
	return hostGrantedReadPaths()
}

// GetFilesystemUsage asks the host for the usage of the file system mounted
// at mountPoint. It needs a filesystem-usage grant covering it; natively it
// is Unavailable.
func GetFilesystemUsage(mountPoint string) (MountUsage, error) {
	return hostFilesystemUsage(mountPoint)
}

// underGrant reports whether p lies under one of granted, lexically: ".."
// never climbs out of a grant.
func underGrant(p string, granted []string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return false
		}
	}
	p = path.Clean(p)
	for _, g := range granted {
		g = path.Clean(g)
		if p == g || g == "/" || strings.HasPrefix(p, g+"/") {
			return true
		}
	}
	return false
}

// FileError turns an error reading p into an *Error telling the operator
// what to grant when the sandbox is the cause (WASI reports a path outside
// every grant as absent; the grants tell the two apart).
func FileError(p string, err error) error {
	outside := sandboxed && !underGrant(p, GrantedReadPaths())
	msg := err.Error()
	denied := errors.Is(err, fs.ErrPermission) || outside || strings.Contains(msg, "not capable")
	// The error repeats the path; keep a hostile one from flooding the status.
	p, msg = shorten(p), shorten(msg)
	if denied {
		return Errorf(Denied, "read path %s: not granted (add a read_paths grant covering it): %s", p, msg)
	}
	return Errorf(Unavailable, "%s: %s", p, msg)
}

// shorten cuts s to at most 512 bytes (on a rune boundary), marking the cut.
func shorten(s string) string {
	const limit = 512
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ReadFile reads a whole file that lies under a granted read-only path.
// Errors are Denied (naming the grant to add) or Unavailable.
func ReadFile(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, FileError(p, err)
	}
	return b, nil
}
