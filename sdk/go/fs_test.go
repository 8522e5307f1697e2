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
	if kindOf(err) != Unavailable || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing file is unavailable, naming it: %v", err)
	}
	if _, err := ReadFile(dir); kindOf(err) != Unavailable {
		t.Fatalf("a directory is unavailable: %v", err)
	}
}

func TestPermissionErrorsAreDenied(t *testing.T) {
	err := FileError("/proc/kcore", os.ErrPermission)
	if kindOf(err) != Denied || !strings.Contains(err.Error(), "add a read_paths grant covering it") {
		t.Fatalf("got %v", err)
	}
}

func TestHostCallsNatively(t *testing.T) {
	if _, err := GetFilesystemUsage("/"); kindOf(err) != Unavailable {
		t.Fatalf("natively, filesystem usage is unavailable: %v", err)
	}
	if GrantedReadPaths() != nil || InstanceName() != "" {
		t.Fatal("natively there are no grants and no instance")
	}
	Logf(LevelInfo, "a log line from %s", "a test")
}

func TestHugePathsAreShortenedInErrors(t *testing.T) {
	p := "/" + strings.Repeat("é", 1<<20)
	_, err := ReadFile(p)
	if kindOf(err) != Unavailable || len(err.Error()) > 1200 || !utf8.ValidString(err.Error()) {
		t.Fatalf("a huge path gives a short, valid error: %d bytes", len(err.Error()))
	}
}
