"""The output of one collection: metric families built with a small builder.

    out.gauge("node_load1", "1m load average.").set(0.42)
    out.counter("http_requests_total", "Requests.").set(7, {"code": "200"})
    out.histogram("latency_seconds", "Latency.").unit("seconds").observe(
        Histogram(buckets=[(0.1, 3), (1.0, 5)], count=6, sum=2.5))

The host exposes a counter `foo` as `foo_total` unless its name already
ends in `_total`, an info family `foo` as `foo_info` unless its name
already ends in `_info`, a histogram as `foo_bucket`/`foo_sum`/`foo_count`. The builder checks names and labels as
the host does, so a mistake fails in a unit test rather than having the
host refuse the whole output.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
#: Label names already found valid (checking each series' names again is
#: most of the cost of a large collect).
_GOOD_LABELS: set = set()


class Kind(enum.Enum):
    """The type of a metric family (OpenMetrics' types, as in the WIT)."""

    COUNTER = "counter"
    GAUGE = "gauge"
    UNTYPED = "untyped"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"
    INFO = "info"
    STATESET = "stateset"
    GAUGE_HISTOGRAM = "gauge_histogram"


#: Labels of one series: a mapping or a sequence of (name, value) pairs.
LabelsLike = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]


@dataclass
class Histogram:
    """A classic histogram: cumulative (upper_bound, count) buckets sorted by
    bound (the host adds `+Inf` from `count` when it is missing)."""

    buckets: list = field(default_factory=list)
    count: int = 0
    sum: float = 0.0


@dataclass
class Summary:
    """A summary: (quantile, value) pairs with quantiles in [0, 1]."""

    quantiles: list = field(default_factory=list)
    count: int = 0
    sum: float = 0.0


@dataclass
class Metric:
    """One series: labels (without the metric name), value, timestamp."""

    labels: list
    value: Union[float, Histogram, Summary]
    timestamp_ms: Optional[int] = None

    def label(self, name: str) -> Optional[str]:
        for n, v in self.labels:
            if n == name:
                return v
        return None


@dataclass
class Family:
    """A metric family: name, kind, help, unit and its series."""

    name: str
    kind: Kind
    help: str
    unit: str = ""
    metrics: list = field(default_factory=list)

    def value(self, labels: LabelsLike = None):
        """The value of the series with exactly `labels`, or None (tests)."""
        wanted = sorted(_pairs(labels))
        for m in self.metrics:
            if sorted(m.labels) == wanted:
                return m.value
        return None


def _pairs(labels: LabelsLike) -> list:
    if labels is None:
        return []
    if isinstance(labels, Mapping):
        items: Iterable = labels.items()
    else:
        items = labels
    return [(str(n), str(v)) for n, v in items]


class Registry:
    """Everything one `collect` produced, families in insertion order."""

    def __init__(self) -> None:
        self._families: list[Family] = []
        self._by_name: dict[str, Family] = {}

    def family(self, name: str, kind: Kind, help: str = "") -> "FamilyBuilder":
        """The family `name`, created with `kind` and `help` on first use;
        later calls with the same name add series to the same family (and
        must give the same kind)."""
        family = self._by_name.get(name)
        if family is None:
            if not METRIC_NAME.match(name):
                raise ValueError(
                    f"invalid metric name {name!r}: use letters, digits, '_' and ':', "
                    "not starting with a digit"
                )
            family = Family(name, Kind(kind), help)
            self._families.append(family)
            self._by_name[name] = family
        elif family.kind != Kind(kind):
            raise ValueError(
                f"family {name!r} is a {family.kind.value}, not a {Kind(kind).value}"
            )
        return FamilyBuilder(family)

    def counter(self, name: str, help: str = "") -> "FamilyBuilder":
        return self.family(name, Kind.COUNTER, help)

    def gauge(self, name: str, help: str = "") -> "FamilyBuilder":
        return self.family(name, Kind.GAUGE, help)

    def untyped(self, name: str, help: str = "") -> "FamilyBuilder":
        return self.family(name, Kind.UNTYPED, help)

    def histogram(self, name: str, help: str = "") -> "FamilyBuilder":
        return self.family(name, Kind.HISTOGRAM, help)

    def summary(self, name: str, help: str = "") -> "FamilyBuilder":
        return self.family(name, Kind.SUMMARY, help)

    def info(self, name: str, help: str = "") -> "FamilyBuilder":
        """An info family: series valued 1 whose labels carry the information."""
        return self.family(name, Kind.INFO, help)

    @property
    def families(self) -> list[Family]:
        return list(self._families)

    def get(self, name: str) -> Optional[Family]:
        """The family called `name`, for tests."""
        return self._by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._families)


class FamilyBuilder:
    """Adds series to one family of a `Registry`; every method returns the
    builder, so calls chain."""

    def __init__(self, family: Family) -> None:
        self.family = family

    def unit(self, unit: str) -> "FamilyBuilder":
        """Sets the OpenMetrics unit (e.g. `seconds`); the family name must
        end with `_` and the unit."""
        self.family.unit = unit
        return self

    def set(self, value: float, labels: LabelsLike = None, *, timestamp_ms: Optional[int] = None) -> "FamilyBuilder":
        """Adds one series with `labels` and a number value."""
        if self.family.kind in (Kind.HISTOGRAM, Kind.GAUGE_HISTOGRAM, Kind.SUMMARY):
            raise ValueError(
                f"family {self.family.name!r} is a {self.family.kind.value}: use observe()"
            )
        return self._push(labels, float(value), timestamp_ms)

    def info(self, labels: LabelsLike) -> "FamilyBuilder":
        """Adds one info series (value 1)."""
        return self.set(1.0, labels)

    def observe(self, value: Union[Histogram, Summary], labels: LabelsLike = None, *, timestamp_ms: Optional[int] = None) -> "FamilyBuilder":
        """Adds one histogram or summary series."""
        kind = self.family.kind
        if isinstance(value, Histogram) and kind in (Kind.HISTOGRAM, Kind.GAUGE_HISTOGRAM):
            bounds = [float(b) for b, _ in value.buckets]
            if any(math.isnan(b) for b in bounds) or bounds != sorted(set(bounds)):
                raise ValueError(f"family {self.family.name!r}: bucket bounds must increase")
        elif not (isinstance(value, Summary) and kind == Kind.SUMMARY):
            raise ValueError(
                f"family {self.family.name!r} is a {kind.value}: it cannot hold a "
                f"{type(value).__name__}"
            )
        return self._push(labels, value, timestamp_ms)

    def _push(self, labels: LabelsLike, value, timestamp_ms: Optional[int]) -> "FamilyBuilder":
        pairs = _pairs(labels)
        names = set()
        for name, _ in pairs:
            if name in _GOOD_LABELS:
                pass
            elif not LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(
                    f"family {self.family.name!r}: invalid label name {name!r} (letters, "
                    "digits and '_', not starting with a digit or '__')"
                )
            elif len(_GOOD_LABELS) < 10_000:
                _GOOD_LABELS.add(name)
            if name in names:
                raise ValueError(f"family {self.family.name!r}: duplicate label {name!r}")
            names.add(name)
        self.family.metrics.append(Metric(pairs, value, timestamp_ms))
        return self
