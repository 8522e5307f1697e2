"""wasmetheus-sdk: write wasmetheus exporter plugins in Python.

An exporter is a class derived from `Exporter`, in a project made with
`cargo xtask new-plugin --lang python NAME`; `cargo xtask test-plugin DIR`
tests it, turns it into a WebAssembly component with componentize-py and
checks it in the runtime. Everything here is plain Python, so a plugin's logic is
unit-tested natively with `python3 -m unittest`; only the host calls
(`log`, grants, `filesystem_usage`) behave differently there (see `host`).

    from wasmetheus_sdk import Exporter, Metadata, Registry

    class Hello(Exporter):
        @classmethod
        def metadata(cls):
            return Metadata("hello", "0.1.0", "Says hello")

        def collect(self, out: Registry):
            out.gauge("hello_world", "Always one.").set(1)

The project's `pyproject.toml` names the class for the build:

    [tool.wasmetheus]
    exporter = "hello:Hello"
"""

from .config import parse_config
from .errors import Denied, Error, InvalidConfig, Other, Unavailable
from .host import (
    FilesystemUsage,
    debug,
    error,
    filesystem_usage,
    granted_read_paths,
    info,
    instance_name,
    is_granted,
    list_dir,
    log,
    not_granted,
    read_bytes,
    read_file,
    read_text,
    stat,
    warn,
)
from .metadata import Capability, CapabilityRequest, Metadata
from .registry import Family, FamilyBuilder, Histogram, Kind, Metric, Registry, Summary

__version__ = "0.1.0"


class Exporter:
    """An exporter plugin: `open`ed once per configured instance, then
    `collect`ed once per scrape interval (never concurrently for one
    instance). Raise the `errors` (`InvalidConfig`, `Denied`, `Unavailable`)
    to fail a call with a message that says how to fix it."""

    @classmethod
    def metadata(cls) -> Metadata:
        """Name, version, description, config schema, capabilities."""
        raise NotImplementedError(f"{cls.__name__} must define metadata()")

    @classmethod
    def open(cls, config: str) -> "Exporter":
        """Opens an instance from its JSON configuration (`{}` when none).
        By default: checks it against the metadata's schema (see
        `parse_config`) and calls `cls(settings)`, or `cls()` when the
        plugin takes no configuration."""
        schema = cls.metadata().schema_dict()
        settings = parse_config(config, schema)
        if schema is None:
            return cls()
        return cls(settings)

    def collect(self, out: Registry) -> None:
        """Adds the current metrics to `out`."""
        raise NotImplementedError(f"{type(self).__name__} must define collect()")


__all__ = [
    "Capability",
    "CapabilityRequest",
    "Denied",
    "Error",
    "Exporter",
    "Family",
    "FamilyBuilder",
    "FilesystemUsage",
    "Histogram",
    "InvalidConfig",
    "Kind",
    "Metadata",
    "Metric",
    "Other",
    "Registry",
    "Summary",
    "Unavailable",
    "debug",
    "error",
    "filesystem_usage",
    "granted_read_paths",
    "info",
    "instance_name",
    "is_granted",
    "list_dir",
    "log",
    "not_granted",
    "parse_config",
    "read_bytes",
    "read_file",
    "read_text",
    "stat",
    "warn",
]
