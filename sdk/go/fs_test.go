// Tests of granted-file reads and their errors.

package sdk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUnderGrant(t *testing.T) {
	granted := []string{"/proc", "/var/lib/node/"}
	cases := map[string]bool{
		"/proc":                  true,
		"/proc/meminfo":          true,
		"/proc/../etc/passwd":    false,
		"/processes":             false,
		"/var/lib/node/textfile": true,
		"/var/lib/nodes":         false,
		"/etc/passwd":            false,
		"proc/meminfo":           false,
		"/proc/./net/../meminfo": false,
		"/proc//meminfo":         true,
	}
	for p, want := range cases {
		if got := underGrant(p, granted); got != want {
			t.Errorf("underGrant(%q) = %v, want %v", p, got, want)
		}
	}
	if !underGrant("/anything", []string{"/"}) {
		t.Error("a grant of / covers everything")
	}
}

func kindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 255
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(p); err != nil || string(b) != "x" {
		t.Fatalf("%q %v", b, err)
	}
	_, err := ReadFile(filepath.Join(dir, "missing"))
	if kindOf(err) != Unavailable || err.Error() != "unavailable: "+filepath.Join(dir, "missing")+": no such file or directory" {
		t.Fatalf("a missing file is unavailable, naming it: %v", err)
	}
	if _, err := ReadFile(dir); kindOf(err) != Unavailable {
		t.Fatalf("a directory is unavailable: %v", err)
	}
}

func TestPermissionErrorsAreDenied(t *testing.T) {
	err := FileError("/proc/kcore", &os.PathError{Op: "open", Path: "/proc/kcore", Err: os.ErrPermission})
	if kindOf(err) != Denied || err.Error() != "denied: read path /proc/kcore: refused by the host: permission denied" {
		t.Fatalf("got %v", err)
	}
}

func TestNativeGrantsDeny(t *testing.T) {
	granted, elsewhere := t.TempDir(), t.TempDir()
	inside, outside := filepath.Join(granted, "f"), filepath.Join(elsewhere, "f")
	for _, p := range []string{inside, outside} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	SetNativeGrants([]string{granted})
	defer SetNativeGrants(nil)
	if got := GrantedReadPaths(); len(got) != 1 || got[0] != granted {
		t.Fatalf("GrantedReadPaths = %v", got)
	}
	if b, err := ReadFile(inside); err != nil || string(b) != "x" {
		t.Fatalf("a granted file: %q %v", b, err)
	}
	_, err := ReadFile(outside)
	want := "denied: read path " + outside + ": not granted (add a read_paths grant of a directory that holds it, e.g. " + elsewhere + ")"
	if kindOf(err) != Denied || err.Error() != want {
		t.Fatalf("a file outside the grants:\n got %v\nwant %s", err, want)
	}
	// Denied before opening: a missing file outside is denied, not unavailable.
	if _, err := ReadFile(filepath.Join(elsewhere, "missing")); kindOf(err) != Denied {
		t.Fatalf("a missing file outside the grants: %v", err)
	}
	// ".." does not climb out of a grant, and a relative path is in none.
	escape := granted + "/../" + filepath.Base(elsewhere) + "/f"
	if _, err := ReadFile(escape); kindOf(err) != Denied {
		t.Fatalf("%s: %v", escape, err)
	}
	if _, err := ReadFile("f"); kindOf(err) != Denied || !strings.Contains(err.Error(), "must be absolute") {
		t.Fatalf("a relative path: %v", err)
	}
	SetNativeGrants([]string{})
	if _, err := ReadFile(inside); kindOf(err) != Denied {
		t.Fatalf("no grants at all: %v", err)
	}
	SetNativeGrants(nil)
	if _, err := ReadFile(outside); err != nil {
		t.Fatalf("nil grants make everything readable again: %v", err)
	}
}

func TestHugePathsAreShortenedInErrors(t *testing.T) {
	p := "/" + strings.Repeat("é", 1<<20)
	_, err := ReadFile(p)
	if kindOf(err) != Unavailable || len(err.Error()) > 1200 || !utf8.ValidString(err.Error()) {
		t.Fatalf("a huge path gives a short, valid error: %d bytes", len(err.Error()))
	}
}
