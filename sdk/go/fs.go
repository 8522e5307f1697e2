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

// GrantedReadPaths is the read-only directories the host granted this
// instance; natively, the ones a test set with [SetNativeGrants] (nil when
// none were set: everything is readable).
func GrantedReadPaths() []string {
	return hostGrantedReadPaths()
}

// nativeGrants is what SetNativeGrants set.
var nativeGrants []string

// SetNativeGrants makes a native test run as if the host had granted
// exactly the read-only directories paths: [ReadFile] of a path outside
// them then fails with the Denied error the host gives. nil (the default)
// makes everything readable. It has no effect in the host, whose grants
// come from the operator's configuration.
func SetNativeGrants(paths []string) {
	if paths == nil {
		nativeGrants = nil
		return
	}
	nativeGrants = append([]string{}, paths...)
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

// FileError turns an error reading p into an *Error: Denied when the
// sandbox is the cause (a path outside every grant, which WASI reports as a
// bad descriptor or absent, or a refusal by the host), telling the operator
// what to grant; Unavailable otherwise. The message holds the path and the
// cause only, not the wording of the WASI call that failed.
func FileError(p string, err error) error {
	if !granted(p) {
		return notGranted(p)
	}
	cause := err
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		cause = pathErr.Err
	}
	msg := shorten(cause.Error())
	if errors.Is(err, fs.ErrPermission) || strings.Contains(msg, "not capable") {
		return Errorf(Denied, "read path %s: refused by the host: %s", shorten(p), msg)
	}
	return Errorf(Unavailable, "%s: %s", shorten(p), msg)
}

// granted reports whether p may be read: in the host, whether it lies under
// a read_paths grant; natively, whether it lies under the grants a test set
// with [SetNativeGrants] (everything when none were set).
func granted(p string) bool {
	grants := GrantedReadPaths()
	if !sandboxed && grants == nil {
		return true
	}
	return underGrant(p, grants)
}

// notGranted is the Denied error for reading p outside every grant.
func notGranted(p string) error {
	if !path.IsAbs(p) {
		return Errorf(Denied,
			"read path %s: not granted (a path to read must be absolute, in a directory a read_paths grant holds)",
			shorten(p))
	}
	dir := path.Dir(path.Clean(p))
	return Errorf(Denied,
		"read path %s: not granted (add a read_paths grant of a directory that holds it, e.g. %s)",
		shorten(p), shorten(dir))
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
// Errors are Denied (naming the grant to add) or Unavailable. A path
// outside the grants is refused before anything is opened, in the host and
// natively under [SetNativeGrants].
func ReadFile(p string) ([]byte, error) {
	if !granted(p) {
		return nil, notGranted(p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, FileError(p, err)
	}
	return b, nil
}
