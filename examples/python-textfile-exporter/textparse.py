"""A parser of the Prometheus text exposition format (0.0.4), as
node_exporter's textfile collector reads it (Go's `expfmt.TextParser`):
`# HELP` and `# TYPE` lines, samples with escaped label values, histograms
and summaries assembled from their `_bucket`/`_sum`/`_count` samples.

It also enforces what the wasmetheus host accepts (label name and value
lengths, histogram shape), so that a file the host would refuse fails here,
alone, instead of the whole output.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Optional

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\Z", re.IGNORECASE)
INT = re.compile(r"[+-]?\d+\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

#: The host's limits on one series (see the host's output validation).
MAX_LABEL_NAME_BYTES = 256
MAX_LABEL_VALUE_BYTES = 4096
MAX_LABELS = 64


class ParseError(Exception):
    """A line of the file is not valid; `line` is 1-based."""

    def __init__(self, line: int, message: str):
        where = f"text format parsing error in line {line}: " if line else ""
        super().__init__(where + message)
        self.line = line


@dataclass
class Series:
    """One series of a family: labels in file order, and its value; for a
    histogram `buckets` maps `le` to the count, for a summary `quantiles`."""

    labels: list
    value: Optional[float] = None
    buckets: dict = field(default_factory=dict)
    quantiles: dict = field(default_factory=dict)
    count: Optional[float] = None
    sum: Optional[float] = None
    timestamped: bool = False


@dataclass
class ParsedFamily:
    name: str
    type: str = "untyped"
    help: Optional[str] = None
    series: dict = field(default_factory=dict)  # sorted label pairs -> Series
    typed: bool = False


def _unescape(text: str, line: int, quotes: bool) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            elif nxt == '"' and quotes:
                out.append('"')
            else:
                raise ParseError(line, f"invalid escape sequence '\\{nxt}'")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _float(token: str, line: int, what: str) -> float:
    if not FLOAT.match(token):
        raise ParseError(line, f"expected float as {what}, got {token[:40]!r}")
    return float(token)


class _Line:
    """A cursor over one line."""

    def __init__(self, text: str, number: int):
        self.text, self.pos, self.number = text, 0, number

    def blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in " \t":
            self.pos += 1
        return self.text[start : self.pos]

    def name(self, pattern, what: str) -> str:
        m = pattern.match(self.text, self.pos)
        if not m:
            raise ParseError(self.number, f"invalid {what} at {self.text[self.pos:self.pos + 20]!r}")
        self.pos = m.end()
        return m.group(0)

    def error(self, message: str) -> ParseError:
        return ParseError(self.number, message)


class Budget(Exception):
    """Parsing stopped: the file holds more series than allowed, or the
    time allowed ran out."""


def parse(text: str, deadline: Optional[float] = None, max_lines: Optional[int] = None) -> dict:
    """Parses `text` into families by name, in the order they appear.
    Stops with `Budget` past `max_lines` sample and comment lines or past
    `deadline` (a `time.monotonic()` value, checked every 1024 lines)."""
    families: dict[str, ParsedFamily] = {}
    for number, raw in enumerate(text.split("\n"), 1):
        if number & 1023 == 0:
            if deadline is not None and time.monotonic() > deadline:
                raise Budget(f"stopped at line {number}: the time for this collect ran out")
            if max_lines is not None and number > max_lines:
                raise Budget(f"more than {max_lines} lines")
        line = _Line(raw.rstrip("\r"), number)
        line.blanks()
        if not line.peek():
            continue
        if line.peek() == "#":
            _comment(line, families)
        else:
            _sample(line, families)
    for family in families.values():
        _finish(family)
    return families


def _comment(line: _Line, families: dict) -> None:
    line.pos += 1
    line.blanks()
    keyword = line.token()
    if keyword not in ("HELP", "TYPE"):
        return  # any other comment is ignored
    line.blanks()
    name = line.name(METRIC_NAME, "metric name")
    rest = line.text[line.pos :]
    if rest and rest[0] not in " \t":
        raise line.error(f"invalid metric name in {keyword} line")
    rest = rest.lstrip(" \t")
    family = families.get(name)
    if keyword == "HELP":
        if family is not None and family.help is not None:
            raise line.error(f"second HELP line for metric name {name!r}")
        family = family or families.setdefault(name, ParsedFamily(name))
        family.help = _unescape(rest, line.number, quotes=False)
    else:
        kind = rest.rstrip(" \t").lower()
        if kind not in TYPES:
            raise line.error(f"unknown metric type {rest.strip()[:40]!r}")
        if family is not None and (family.typed or family.series):
            raise line.error(f"second TYPE line for metric name {name!r}, or TYPE reported after samples")
        family = family or families.setdefault(name, ParsedFamily(name))
        family.type, family.typed = kind, True


def _family_of(name: str, families: dict):
    """The family a sample called `name` belongs to and the sample's role."""
    for suffix, types in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")), ("_count", ("histogram", "summary"))):
        if name.endswith(suffix):
            base = families.get(name[: -len(suffix)])
            if base is not None and base.type in types:
                return base, suffix
    family = families.get(name)
    if family is None:
        family = families[name] = ParsedFamily(name)
    return family, ""


def _labels(line: _Line) -> list:
    pairs = []
    line.pos += 1  # "{"
    while True:
        line.blanks()
        if line.peek() == "}":
            line.pos += 1
            return pairs
        name = line.name(LABEL_NAME, "label name")
        line.blanks()
        if line.peek() != "=":
            raise line.error(f"expected '=' after label name {name!r}")
        line.pos += 1
        line.blanks()
        if line.peek() != '"':
            raise line.error(f"expected '\"' to start the value of label {name!r}")
        end = line.pos + 1
        while True:
            end = line.text.find('"', end)
            if end < 0:
                raise line.error(f"unterminated value of label {name!r}")
            backslashes = 0
            while line.text[end - 1 - backslashes] == "\\":
                backslashes += 1
            if backslashes % 2 == 0:
                break
            end += 1
        value = _unescape(line.text[line.pos + 1 : end], line.number, quotes=True)
        line.pos = end + 1
        pairs.append((name, value))
        line.blanks()
        if line.peek() == ",":
            line.pos += 1
        elif line.peek() != "}":
            raise line.error(f"unexpected {line.peek() or 'end of line'!r} after the value of label {name!r}")


#: The common shape of a sample line, matched in one go; a line it does not
#: match goes through the careful path, which names what is wrong.
_FAST_NAME = re.compile(r"[ \t]*([a-zA-Z_:][a-zA-Z0-9_:]*)")
_FAST_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,?)')
_FAST_REST = re.compile(r"[ \t]+([^ \t]+)(?:[ \t]+([^ \t]+))?[ \t]*\Z")


def _fast(line: _Line):
    """(name, label pairs, value, timestamp or None) of a well-formed
    sample line, or None."""
    text = line.text
    m = _FAST_NAME.match(text)
    if not m:
        return None
    name, pos, pairs = m.group(1), m.end(), []
    if text.startswith("{", pos):
        pos += 1
        while True:
            lm = _FAST_LABEL.match(text, pos)
            if not lm:
                break
            value = lm.group(2)
            if "\\" in value:
                value = _unescape(value, line.number, quotes=True)
            pairs.append((lm.group(1), value))
            pos = lm.end()
            if not lm.group(3):
                break
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if not text.startswith("}", pos):
            return None
        pos += 1
    rest = _FAST_REST.match(text, pos)
    if not rest or not FLOAT.match(rest.group(1)):
        return None
    stamp = rest.group(2)
    if stamp is not None and not INT.match(stamp):
        return None
    return name, pairs, float(rest.group(1)), stamp


def _careful(line: _Line):
    """What `_fast` returns, or the ParseError that says what is wrong."""
    line.pos = 0
    line.blanks()
    name = line.name(METRIC_NAME, "metric name")
    pairs = _labels(line) if line.peek() == "{" else []
    if line.peek() not in (" ", "\t"):
        raise line.error(f"expected a blank after the metric name and labels, got {line.peek() or 'end of line'!r}")
    line.blanks()
    value = _float(line.token(), line.number, "value")
    line.blanks()
    stamp = None
    if line.peek():
        stamp = line.token()
        if not INT.match(stamp):
            raise line.error(f"expected integer as timestamp, got {stamp[:40]!r}")
        line.blanks()
        if line.peek():
            raise line.error(f"unexpected {line.text[line.pos:line.pos + 20]!r} after the timestamp")
    return name, pairs, value, stamp


def _sample(line: _Line, families: dict) -> None:
    name, pairs, value, stamp = _fast(line) or _careful(line)
    timestamped = stamp is not None

    family, role = _family_of(name, families)
    seen = set()
    special = {"histogram": "le", "summary": "quantile"}.get(family.type)
    key_pairs, special_value = [], None
    for label, label_value in pairs:
        if label in seen:
            raise line.error(f"duplicate label name {label!r}")
        seen.add(label)
        if label.startswith("__"):
            raise line.error(f"label name {label!r} starts with '__', which is reserved")
        if len(label) > MAX_LABEL_NAME_BYTES:  # ASCII: characters are bytes
            raise line.error(f"label name longer than {MAX_LABEL_NAME_BYTES} bytes")
        # At most 4 bytes a character: only a long value needs encoding.
        if len(label_value) > MAX_LABEL_VALUE_BYTES // 4 and len(label_value.encode()) > MAX_LABEL_VALUE_BYTES:
            raise line.error(f"value of label {label!r} longer than {MAX_LABEL_VALUE_BYTES} bytes")
        if label == special and ((special == "le" and role == "_bucket") or (special == "quantile" and role == "")):
            special_value = label_value
        else:
            key_pairs.append((label, label_value))
    if len(key_pairs) > MAX_LABELS:
        raise line.error(f"{len(key_pairs)} labels, more than {MAX_LABELS}")
    key = tuple(sorted(key_pairs))
    series = family.series.get(key)
    if series is None:
        series = family.series[key] = Series(key_pairs)
    elif family.type not in ("histogram", "summary"):
        raise line.error(f"duplicate series {name}{{{_show(key_pairs)}}}")
    series.timestamped |= timestamped

    if family.type == "histogram" and role == "_bucket":
        if special_value is None:
            raise line.error(f"histogram bucket {name} without an 'le' label")
        series.buckets[_float(special_value, line.number, "'le' label")] = value
    elif family.type == "summary" and role == "":
        if special_value is None:
            raise line.error(f"summary sample {name} without a 'quantile' label")
        series.quantiles[_float(special_value, line.number, "'quantile' label")] = value
    elif role == "_sum":
        series.sum = value
    elif role == "_count":
        series.count = value
    elif family.type == "histogram":
        raise line.error(f"sample {name} of histogram {family.name} is no _bucket, _sum or _count")
    else:
        if series.value is not None:
            raise line.error(f"duplicate series {name}{{{_show(key_pairs)}}}")
        series.value = value


def _show(pairs) -> str:
    return ",".join(f'{n}="{v[:40]}"' for n, v in pairs)


def _count(value: float, what: str, family: ParsedFamily, series: Series) -> int:
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise ParseError(0, f"{family.name}{{{_show(series.labels)}}}: {what} {value} is not a count")
    return int(value)


def _finish(family: ParsedFamily) -> None:
    """Checks each histogram and summary as the host will."""
    for series in family.series.values():
        where = f"{family.name}{{{_show(series.labels)}}}"
        if family.type == "histogram":
            bounds = sorted(series.buckets)
            counts = [_count(series.buckets[b], "bucket count", family, series) for b in bounds]
            if any(b is not None and math.isnan(b) for b in bounds):
                raise ParseError(0, f"{where}: a bucket has le=NaN")
            if counts != sorted(counts):
                raise ParseError(0, f"{where}: bucket counts decrease as le grows")
            if series.count is None:
                series.count = counts[-1] if counts else 0
            count = _count(series.count, "_count", family, series)
            if counts and count < counts[-1]:
                raise ParseError(0, f"{where}: _count {count} is less than the last bucket's {counts[-1]}")
            if bounds and bounds[-1] == math.inf and count != counts[-1]:
                raise ParseError(0, f"{where}: _count {count} differs from the +Inf bucket's {counts[-1]}")
            series.buckets = dict(zip(bounds, counts))
            series.count = count
        elif family.type == "summary":
            for q in series.quantiles:
                if not 0 <= q <= 1:
                    raise ParseError(0, f"{where}: quantile {q} is outside [0, 1]")
            series.count = _count(series.count or 0.0, "_count", family, series)
        if series.sum is None:
            series.sum = 0.0
        if family.type in ("histogram", "summary") and series.value is not None:
            raise ParseError(0, f"{where}: a {family.type} sample without a suffix")
        if family.type not in ("histogram", "summary") and series.value is None:
            series.value = 0.0
