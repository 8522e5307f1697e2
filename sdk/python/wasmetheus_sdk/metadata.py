"""What a plugin says about itself: identity, config schema, capabilities."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Capability:
    """A capability a plugin asks the operator for; build it with the class
    methods (`Capability.read_path("/proc")`, …). Requesting grants nothing:
    the operator grants it under the instance's `grants`."""

    kind: str
    value: str = ""

    KINDS = (
        "read_path",
        "tcp_connect",
        "http_origin",
        "env_var",
        "dns_lookup",
        "filesystem_usage",
    )

    @classmethod
    def read_path(cls, path: str) -> "Capability":
        """Read-only access to a directory tree (`grants.read_paths`)."""
        return cls("read_path", path)

    @classmethod
    def tcp_connect(cls, address: str) -> "Capability":
        """TCP connections to `host:port` (`grants.tcp_connect`)."""
        return cls("tcp_connect", address)

    @classmethod
    def http_origin(cls, origin: str) -> "Capability":
        """HTTP requests to an origin such as `http://127.0.0.1:8080`."""
        return cls("http_origin", origin)

    @classmethod
    def env_var(cls, name: str) -> "Capability":
        """Reading one environment variable."""
        return cls("env_var", name)

    @classmethod
    def dns_lookup(cls) -> "Capability":
        """Name resolution through DNS."""
        return cls("dns_lookup")

    @classmethod
    def filesystem_usage(cls, path: str) -> "Capability":
        """Size and usage of the file systems mounted under `path`."""
        return cls("filesystem_usage", path)


@dataclass(frozen=True)
class CapabilityRequest:
    """A requested capability, why, and whether the plugin works without it."""

    capability: Capability
    reason: str
    optional: bool = False


@dataclass
class Metadata:
    """Name (`[a-z0-9-]+`, equal to the plugin file's stem), version, one
    line of description, the JSON Schema of the config `open` accepts, and
    the capabilities requested.

    `config_schema` may be given as a dict (or a JSON string). Declare each
    setting holding a secret with `"writeOnly": true` so the host shows its
    value as `<secret>`. Give the schema an `"examples"` list: `wasmetheus
    check plugins` opens the plugin with its first entry.
    """

    name: str
    version: str
    description: str
    config_schema: Any = ""
    capabilities: list[CapabilityRequest] = field(default_factory=list)

    def request(self, capability: Capability, reason: str) -> "Metadata":
        """Asks for a capability the plugin cannot work without."""
        self.capabilities.append(CapabilityRequest(capability, reason, False))
        return self

    def request_optional(self, capability: Capability, reason: str) -> "Metadata":
        """Asks for a capability the plugin can do without, producing less."""
        self.capabilities.append(CapabilityRequest(capability, reason, True))
        return self

    def schema_text(self) -> str:
        """The config schema as the JSON text the host reads."""
        if isinstance(self.config_schema, str):
            return self.config_schema
        return json.dumps(self.config_schema, separators=(",", ":"))

    def schema_dict(self) -> dict | None:
        """The config schema as a dict, or None when there is none."""
        if isinstance(self.config_schema, dict):
            return self.config_schema
        if not self.config_schema:
            return None
        return json.loads(self.config_schema)
