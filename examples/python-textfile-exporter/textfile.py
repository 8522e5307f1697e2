"""python-textfile-exporter: node_exporter's textfile collector as a
wasmetheus plugin, written with the Python SDK.

Every collect reads the `*.prom` files of the configured directory, or of
the directories a glob matches (granted under `grants.read_paths`), parses
them as the text exposition format and re-exports their metrics, plus
`node_textfile_mtime_seconds{file}` for each file read and
`node_textfile_scrape_error`, 1 when any file or the directory failed.

As upstream: a file that does not parse, or that has client-side
timestamps, is skipped whole (scrape error 1, an error log line); families
of the same name in several files are merged; a family whose HELP differs
from the first one seen is dropped (scrape error 1); a family whose type
differs from the first one seen, and a series already exported by an
earlier file, are dropped with an error log line, as upstream's registry
drops them; a family without HELP gets "Metric read from <files>".

Differences forced by the host: a counter whose name does not end in
`_total` is exported as untyped, since the host would expose a counter
`foo` as `foo_total`; two families whose exposed names collide (a gauge
`foo_sum` next to a summary `foo`) keep the first; files larger than
`max_file_bytes`, past `max_files`, or holding more series than the host
accepts are skipped with scrape error 1.
"""

from __future__ import annotations

import glob
import math
import posixpath
import re
import stat as statmod
import time

import textparse
from wasmetheus_sdk import (
    Capability,
    Error,
    Exporter,
    Histogram,
    InvalidConfig,
    Metadata,
    Registry,
    Summary,
    error,
    is_granted,
    list_dir,
    not_granted,
    read_bytes,
    stat,
    warn,
)

#: Debian's prometheus-node-exporter reads textfiles from here.
DEFAULT_DIRECTORY = "/var/lib/prometheus/node-exporter"

#: The host's limits on one collect's output, less room for our own.
MAX_SERIES = 100_000 - 1_000
MAX_FAMILIES = 10_000 - 10

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "directory": {
            "type": "string",
            "minLength": 1,
            "description": "Absolute path of the directory whose *.prom files are re-exported, "
            "or a glob of directories (/var/lib/*/textfiles); grant it under grants.read_paths.",
            "default": DEFAULT_DIRECTORY,
        },
        "max_file_bytes": {
            "type": "integer",
            "minimum": 1,
            "maximum": 64 << 20,
            "default": 4 << 20,
            "description": "A larger file is skipped (scrape error 1). Parsing takes about 20 "
            "bytes of the instance's memory per byte of text: raise the instance's memory_limit "
            "(128 MiB by default) with this.",
        },
        "max_seconds": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 3600,
            "default": 5,
            "description": "Time allowed for reading and parsing the files of one collect; "
            "the file being parsed when it runs out and the rest are skipped (scrape error 1). "
            "Keep it below the instance's scrape timeout.",
        },
        "max_files": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100_000,
            "default": 1000,
            "description": "Files past this many (in name order) are skipped (scrape error 1).",
        },
    },
    "examples": [{"directory": DEFAULT_DIRECTORY}],
}

MTIME = "node_textfile_mtime_seconds"
SCRAPE_ERROR = "node_textfile_scrape_error"


def claimed_names(name: str, kind: str) -> list:
    """The sample names a family is exposed under (and its OpenMetrics
    name): no two families may share one."""
    if kind == "counter" and name.endswith("_total"):
        return [name, name[: -len("_total")]]
    if kind == "histogram":
        return [name, name + "_bucket", name + "_sum", name + "_count"]
    if kind == "summary":
        return [name, name + "_sum", name + "_count"]
    return [name]


def series_count(family: textparse.ParsedFamily) -> int:
    if family.type == "histogram":
        return sum(len(s.buckets) + (math.inf not in s.buckets) + 2 for s in family.series.values())
    if family.type == "summary":
        return sum(len(s.quantiles) + 2 for s in family.series.values())
    return len(family.series)


class Merged:
    """One family as exported: its first type and HELP, the files it came
    from and its series by label set."""

    def __init__(self, family: textparse.ParsedFamily, kind: str):
        self.name, self.kind, self.help = family.name, kind, family.help
        self.files: list = []
        self.series: dict = {}


class TextfileExporter(Exporter):
    @classmethod
    def metadata(cls) -> Metadata:
        return Metadata(
            "python-textfile-exporter",
            "0.1.0",
            "node_exporter's textfile collector: re-exports the *.prom files of a directory",
            SCHEMA,
        ).request(
            Capability.read_path(DEFAULT_DIRECTORY),
            "reads the *.prom files other programs write there (grant the configured directory instead when it differs)",
        )

    def __init__(self, settings: dict):
        directory = settings["directory"]
        if not directory.startswith("/"):
            raise InvalidConfig(f"directory {directory!r} must be an absolute path")
        self.directory = posixpath.normpath(directory)
        # As upstream, the directory may be a glob (`/var/lib/*/textfiles`):
        # the part before the first wildcard must be granted.
        fixed = self.directory
        if glob.has_magic(fixed):
            fixed = posixpath.dirname(re.split(r"[*?\[]", fixed, maxsplit=1)[0]) or "/"
        if not is_granted(fixed):
            raise not_granted(fixed, directory=True)
        self.max_file_bytes = settings["max_file_bytes"]
        self.max_files = settings["max_files"]
        self.max_seconds = settings["max_seconds"]

    def collect(self, out: Registry) -> None:
        errored = False
        merged: dict[str, Merged] = {}
        owner = {MTIME: None, SCRAPE_ERROR: None}  # exposed name -> family name
        help_conflicts: set = set()
        mtimes: dict[str, int] = {}
        series_total = 0

        directories = [self.directory]
        if glob.has_magic(self.directory):
            # Not a glob or nothing matched: read it as a directory, as upstream.
            directories = sorted(glob.glob(self.directory)) or directories
        paths = []
        for directory in directories:
            try:
                paths += [posixpath.join(directory, n) for n in list_dir(directory) if n.endswith(".prom")]
            except Error as e:
                error(f"failed to read textfile collector directory {directory}: {e.message}")
                errored = True
        if len(paths) > self.max_files:
            error(f"{len(paths)} *.prom files in {self.directory}: only the first {self.max_files} are read (max_files)")
            paths, errored = paths[: self.max_files], True

        deadline = time.monotonic() + self.max_seconds
        for path in paths:
            if time.monotonic() > deadline:
                error(f"skipped {path}: the {self.max_seconds} s allowed (max_seconds) ran out")
                errored = True
                continue
            try:
                info = stat(path)
                if statmod.S_ISDIR(info.st_mode):
                    continue
                families = self.read(path, deadline)
            except (Error, textparse.ParseError, textparse.Budget, RecursionError, MemoryError) as e:
                error(f"failed to collect textfile data from {path}: {e}")
                errored = True
                continue
            added = sum(series_count(f) for f in families.values())
            if series_total + added > MAX_SERIES or len(merged) + len(families) > MAX_FAMILIES:
                error(f"skipped {path}: its {added} series would pass the host's limit on one collect's output")
                errored = True
                continue
            series_total += added
            for family in families.values():
                errored |= self.merge(family, path, merged, owner, help_conflicts)
            mtimes[path] = int(info.st_mtime)

        for m in merged.values():
            if not m.series:
                continue
            kind = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary"}.get(m.kind, "untyped")
            if kind == "counter" and not m.name.endswith("_total"):
                kind = "untyped"  # the host would expose a counter `foo` as `foo_total`
            help_text = m.help if m.help is not None else "Metric read from " + ", ".join(m.files)
            builder = out.family(m.name, kind, help_text)
            for s in m.series.values():
                if m.kind == "histogram":
                    builder.observe(Histogram(list(s.buckets.items()), s.count, s.sum), s.labels)
                elif m.kind == "summary":
                    builder.observe(Summary(sorted(s.quantiles.items()), s.count, s.sum), s.labels)
                else:
                    builder.set(s.value, s.labels)
        if mtimes:
            mtime = out.gauge(MTIME, "Unixtime mtime of textfiles successfully read.")
            for path in sorted(mtimes):
                mtime.set(mtimes[path], {"file": path})
        out.gauge(SCRAPE_ERROR, "1 if there was an error opening or reading a file, 0 otherwise").set(1 if errored else 0)

    def read(self, path: str, deadline: float) -> dict:
        """The families of one file; raises when the whole file is skipped."""
        data = read_bytes(path, self.max_file_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise textparse.ParseError(0, f"not UTF-8 text (invalid byte at offset {e.start})") from None
        families = textparse.parse(text, deadline, MAX_SERIES)
        if any(s.timestamped for f in families.values() for s in f.series.values()):
            raise textparse.ParseError(0, f"textfile {path!r} contains unsupported client-side timestamps, skipping entire file")
        return families

    @staticmethod
    def merge(family, path, merged, owner, help_conflicts) -> bool:
        """Adds one file's family; returns True when that is a scrape error."""
        if not family.series:
            return False
        m = merged.get(family.name)
        if family.name in help_conflicts or (
            m is not None and family.help is not None and m.help is not None and family.help != m.help
        ):
            help_conflicts.add(family.name)
            error(
                f"inconsistent metric help text for {family.name} in {path}: "
                f"{family.help!r}, first seen as {m.help if m else None!r} in {m.files[0] if m else '?'}; dropped"
            )
            return True
        if m is None:
            clash = next((owner[n] or n for n in claimed_names(family.name, family.type) if n in owner), None)
            if clash is not None:
                error(f"{family.name} in {path} is dropped: its samples would be named as those of {clash}")
                return False
            m = merged[family.name] = Merged(family, family.type)
            for n in claimed_names(family.name, family.type):
                owner[n] = family.name
        elif m.kind != family.type:
            error(f"{family.name} in {path} is a {family.type}, but was a {m.kind} in {m.files[0]}: dropped")
            return False
        if m.help is None:
            m.help = family.help
        m.files.append(path)
        for key, series in family.series.items():
            if key in m.series:
                error(f"{family.name}{{{textparse._show(series.labels)}}} in {path} was already read from an earlier file: dropped")
                continue
            m.series[key] = series
        return False
