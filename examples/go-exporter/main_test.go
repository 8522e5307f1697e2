// Native tests of go-exporter: parsing, config and collecting from a fake
// /proc, with malformed and missing files.

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wasmetheus.dev/sdk"
)

const meminfoText = `MemTotal:       16314156 kB
MemFree:         1234567 kB
Active(anon):     100 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
garbage line
Weird Name:   5 kB
`

func fakeProc(t *testing.T, loadavg, meminfo string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{"loadavg": loadavg, "meminfo": meminfo} {
		if text == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func kind(err error) sdk.ErrorKind {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 255
}

func TestCollect(t *testing.T) {
	dir := fakeProc(t, "0.42 0.30 0.25 1/123 4567\n", meminfoText)
	c, err := open(`{"proc_path": "` + dir + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	r := sdk.NewRegistry()
	if err := c.Collect(r); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"node_load1":                        0.42,
		"node_load15":                       0.25,
		"node_memory_MemTotal_bytes":        16314156 * 1024,
		"node_memory_Active_anon_bytes":     100 * 1024,
		"node_memory_HugePages_Total_bytes": 0,
	}
	for name, v := range want {
		f := r.Get(name)
		if f == nil || f.Kind != sdk.Gauge || f.Metrics[0].Number != v {
			t.Errorf("%s: got %+v, want %v", name, f, v)
		}
	}
	if r.Get("node_memory_Weird Name_bytes") != nil {
		t.Error("a field that is not a metric name must be skipped")
	}
}

func TestMalformedFiles(t *testing.T) {
	cases := map[string][2]string{
		"short loadavg":  {"0.1 0.2\n", meminfoText},
		"text loadavg":   {"a b c\n", meminfoText},
		"empty meminfo":  {"1 2 3\n", "\n"},
		"binary meminfo": {"1 2 3\n", "\x00\xff\xfe"},
		"huge loadavg":   {strings.Repeat("9", 1<<20), meminfoText},
	}
	for label, files := range cases {
		c, err := open(`{"proc_path": "` + fakeProc(t, files[0], files[1]) + `"}`)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Collect(sdk.NewRegistry())
		if kind(err) != sdk.Unavailable || len(err.Error()) > 300 {
			t.Errorf("%s: want a short unavailable error, got %v", label, err)
		}
	}
}

func TestMissingProc(t *testing.T) {
	c, err := open(`{"proc_path": "/nonexistent/proc"}`)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Collect(sdk.NewRegistry())
	if kind(err) != sdk.Unavailable || !strings.Contains(err.Error(), "/nonexistent/proc/loadavg") {
		t.Fatalf("got %v", err)
	}
}

func TestUngrantedProcIsDenied(t *testing.T) {
	dir := fakeProc(t, "1 2 3\n", meminfoText)
	c, err := open(`{"proc_path": "` + dir + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	sdk.SetNativeGrants([]string{t.TempDir()})
	defer sdk.SetNativeGrants(nil)
	err = c.Collect(sdk.NewRegistry())
	want := "denied: read path " + dir + "/loadavg: not granted (add a read_paths grant of a directory that holds it, e.g. " + dir + ")"
	if kind(err) != sdk.Denied || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	sdk.SetNativeGrants([]string{dir})
	if err := c.Collect(sdk.NewRegistry()); err != nil {
		t.Fatalf("granted: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if c, err := open(""); err != nil || c.(*exporter).proc != "/proc" {
		t.Fatalf("the default is /proc: %v", err)
	}
	if c, err := open(`{"proc_path": "/host/proc/"}`); err != nil || c.(*exporter).proc != "/host/proc" {
		t.Fatalf("%v", err)
	}
	for raw, want := range map[string]string{
		`{"proc_path": "proc"}`:                  "absolute path",
		`{"procpath": "/proc"}`:                  `unknown field "procpath"`,
		`{"proc_path": 3}`:                       "must be string",
		`not json`:                               "config is not valid JSON: invalid character 'o' in literal null (expecting 'u') at line 1 column 2",
		`{"proc_path": "/a", "proc_path": "/b"}`: `key "proc_path" appears twice`,
	} {
		_, err := open(raw)
		if kind(err) != sdk.InvalidConfig || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an invalid-config error with %q", raw, err, want)
		}
	}
}

func TestMetadata(t *testing.T) {
	if metadata.Name != "go-exporter" || !strings.Contains(metadata.ConfigSchema, `"examples"`) {
		t.Fatal("the name is the file stem and the schema has an example for check plugins")
	}
	if metadata.Capabilities[0].Capability != sdk.ReadPath("/proc") {
		t.Fatal("it asks for /proc")
	}
}
