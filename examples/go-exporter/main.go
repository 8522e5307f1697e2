// go-exporter: the load average and memory figures of the machine, read
// from a granted /proc as node_exporter's loadavg and meminfo collectors do.
package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"wasmetheus.dev/sdk"
)

const schema = `{
  "type": "object",
  "properties": {
    "proc_path": {
      "type": "string",
      "description": "Where the host's /proc is mounted (granted read-only).",
      "default": "/proc"
    }
  },
  "additionalProperties": false,
  "examples": [{"proc_path": "/proc"}]
}`

var metadata = sdk.Metadata{
	Name:         "go-exporter",
	Version:      "0.1.0",
	Description:  "Load average and memory of the machine, from /proc (written in Go)",
	ConfigSchema: schema,
	Capabilities: []sdk.CapabilityRequest{
		sdk.Require(sdk.ReadPath("/proc"), "reads /proc/loadavg and /proc/meminfo"),
	},
}

type config struct {
	ProcPath string `json:"proc_path"`
}

type exporter struct {
	proc string
}

func open(raw string) (sdk.Collector, error) {
	c := config{ProcPath: "/proc"}
	if err := sdk.ParseConfig(raw, &c); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(c.ProcPath, "/") {
		return nil, sdk.Errorf(sdk.InvalidConfig, "proc_path must be an absolute path, not %q", c.ProcPath)
	}
	return &exporter{proc: strings.TrimRight(c.ProcPath, "/")}, nil
}

func init() {
	sdk.Export(sdk.Plugin{Metadata: metadata, Open: open})
}

func (e *exporter) Collect(r *sdk.Registry) error {
	load, err := sdk.ReadFile(e.proc + "/loadavg")
	if err != nil {
		return err
	}
	if err := loadavg(string(load), r); err != nil {
		return err
	}
	mem, err := sdk.ReadFile(e.proc + "/meminfo")
	if err != nil {
		return err
	}
	return meminfo(string(mem), r)
}

// loadavg parses /proc/loadavg: "0.42 0.30 0.25 1/123 4567".
func loadavg(text string, r *sdk.Registry) error {
	fields := strings.Fields(text)
	if len(fields) < 3 {
		return sdk.Errorf(sdk.Unavailable, "loadavg: expected 3 load figures, got %q", truncate(text))
	}
	for i, window := range []string{"1", "5", "15"} {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return sdk.Errorf(sdk.Unavailable, "loadavg: field %d is not a number: %q", i+1, truncate(fields[i]))
		}
		r.Gauge("node_load"+window, window+"m load average.").Set(v)
	}
	return nil
}

// meminfo parses /proc/meminfo lines "MemTotal:  16314156 kB" into
// node_memory_<Name>_bytes gauges, as node_exporter names them.
func meminfo(text string, r *sdk.Registry) error {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v *= 1024
		}
		name = strings.NewReplacer("(", "_", ")", "").Replace(name)
		if !validName(name) {
			continue
		}
		r.Gauge("node_memory_"+name+"_bytes", fmt.Sprintf("Memory information field %s.", name)).Set(v)
		n++
	}
	if n == 0 {
		return sdk.Errorf(sdk.Unavailable, "meminfo: no `Name: value` lines in %q", truncate(text))
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func main() {}
