// Package sdk writes wasmetheus exporter plugins in Go.
//
// A plugin is a main package that registers itself with [Export] from an
// init function and is built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared, patched by cmd/wasmetheus-go-patch and made a
// component with wasm-tools and the WASI preview 1 reactor adapter:
// `cargo xtask test-plugin DIR` runs its tests, does all of it and checks
// the result in the runtime. Everything a plugin's logic touches —
// [Registry], [Metadata], [ParseConfig], [ReadFile], [Error] — is plain Go,
// so it is tested natively with `go test` ([SetNativeGrants] makes ReadFile
// refuse what the host would); only the host calls ([Log], [InstanceName],
// [GetFilesystemUsage]) need the wasmetheus host and are stand-ins natively.
//
// Open, Collect and Close run inside one host call each. Goroutines,
// channels and time.Sleep work within a call; a goroutine still running
// when the call returns is paused until the next call into the plugin.
//
//	func init() {
//		sdk.Export(sdk.Plugin{
//			Metadata: sdk.Metadata{Name: "hello", Version: "0.1.0", Description: "Says hello"},
//			Open: func(config string) (sdk.Collector, error) { return hello{}, nil },
//		})
//	}
//
//	type hello struct{}
//
//	func (hello) Collect(r *sdk.Registry) error {
//		r.Gauge("hello_world", "Always one.").Set(1)
//		return nil
//	}
//
//	func main() {}
package sdk

import "fmt"

// ErrorKind says what went wrong in a plugin call; the host shows it with
// the message.
type ErrorKind uint8

const (
	// InvalidConfig: the configuration given to Open is invalid; the
	// message says how to fix it.
	InvalidConfig ErrorKind = iota
	// Denied: a capability was not granted; the message names it.
	Denied
	// Unavailable: what the plugin observes failed; a later call may work.
	Unavailable
	// Other: anything else (any error that is not an *Error is Other).
	Other
)

func (k ErrorKind) String() string {
	switch k {
	case InvalidConfig:
		return "invalid config"
	case Denied:
		return "denied"
	case Unavailable:
		return "unavailable"
	default:
		return "other"
	}
}

// Error is an error of a known kind. Return one from Open or Collect (or
// wrap one: errors.As finds it); any other error is reported as Other.
type Error struct {
	Kind    ErrorKind
	Message string
}

func (e *Error) Error() string {
	if e.Kind == Other {
		return e.Message
	}
	return e.Kind.String() + ": " + e.Message
}

// Errorf returns an *Error of kind with a formatted message.
func Errorf(kind ErrorKind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Collector is one configured instance of an exporter. Collect appends the
// current metrics to r; it is called once per scrape interval, never
// concurrently. A Collector that also implements io.Closer is closed when
// the host drops the instance.
type Collector interface {
	Collect(r *Registry) error
}

// Plugin is what a plugin registers with [Export].
type Plugin struct {
	// Metadata describes the plugin; Name must equal the .wasm file's stem.
	Metadata Metadata
	// Open makes an instance from its JSON configuration (`{}` when none);
	// [ParseConfig] parses it.
	Open func(config string) (Collector, error)
}

var registered *Plugin

// Export registers the plugin. Call it once, from an init function of the
// main package.
func Export(p Plugin) {
	registered = &p
}
