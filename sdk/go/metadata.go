// What a plugin says about itself: identity, config schema, capabilities.

package sdk

// CapabilityKind is the kind of a capability a plugin asks for.
type CapabilityKind uint8

const (
	ReadPathCapability CapabilityKind = iota
	TCPConnectCapability
	HTTPOriginCapability
	EnvVarCapability
	DNSLookupCapability
	FilesystemUsageCapability
)

// Capability is something the operator grants; asking alone grants nothing.
type Capability struct {
	Kind CapabilityKind
	// Target is the path, host:port, origin or variable name (empty for
	// DNS lookups).
	Target string
}

// ReadPath asks for read-only access to a directory tree.
func ReadPath(path string) Capability { return Capability{ReadPathCapability, path} }

// TCPConnect asks for TCP connections to host:port.
func TCPConnect(hostPort string) Capability { return Capability{TCPConnectCapability, hostPort} }

// HTTPOrigin asks for HTTP requests to an origin, e.g. http://127.0.0.1:8080.
func HTTPOrigin(origin string) Capability { return Capability{HTTPOriginCapability, origin} }

// EnvVar asks to read one environment variable.
func EnvVar(name string) Capability { return Capability{EnvVarCapability, name} }

// DNSLookup asks for name resolution.
func DNSLookup() Capability { return Capability{Kind: DNSLookupCapability} }

// FilesystemUsage asks for the usage of the file systems mounted under path.
func FilesystemUsage(path string) Capability {
	return Capability{FilesystemUsageCapability, path}
}

// CapabilityRequest is a requested capability and why; an Optional one may
// be left ungranted at the cost of some output.
type CapabilityRequest struct {
	Capability Capability
	Reason     string
	Optional   bool
}

// Require asks for a capability the plugin cannot work without.
func Require(c Capability, reason string) CapabilityRequest {
	return CapabilityRequest{Capability: c, Reason: reason}
}

// Optionally asks for a capability the plugin can do without.
func Optionally(c Capability, reason string) CapabilityRequest {
	return CapabilityRequest{Capability: c, Reason: reason, Optional: true}
}

// Metadata is who the plugin is and what it needs.
type Metadata struct {
	// Name is a stable identifier, [a-z0-9-]+, equal to the .wasm file's
	// stem.
	Name        string
	Version     string
	Description string
	// ConfigSchema is the JSON Schema (as text) of the configuration Open
	// accepts; empty when none. Its first "examples" entry is what
	// `wasmetheus check plugins` opens the plugin with. Declare a setting
	// holding a secret with "writeOnly": true so the host hides its value.
	ConfigSchema string
	Capabilities []CapabilityRequest
}
