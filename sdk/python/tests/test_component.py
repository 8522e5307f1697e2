"""Tests of the glue: exporter → WIT records and exceptions → WIT errors,
against a stand-in for the bindings' `types` module."""

import types as pytypes
import unittest
from dataclasses import make_dataclass
from enum import Enum

from wasmetheus_sdk import (
    Capability,
    Denied,
    Exporter,
    Histogram,
    InvalidConfig,
    Metadata,
    Registry,
    Summary,
    _component,
)


def record(name, *fields):
    return make_dataclass(name, list(fields))


def fake_types():
    t = pytypes.SimpleNamespace()
    for case in ("InvalidConfig", "Denied", "Unavailable", "Other"):
        setattr(t, "Error_" + case, record("Error_" + case, "value"))
    for case in ("ReadPath", "TcpConnect", "HttpOrigin", "EnvVar", "FilesystemUsage"):
        setattr(t, "Capability_" + case, record("Capability_" + case, "value"))
    t.Capability_DnsLookup = record("Capability_DnsLookup")
    t.CapabilityRequest = record("CapabilityRequest", "capability", "reason", "optional")
    t.PluginMetadata = record("PluginMetadata", "name", "version", "description", "config_schema", "capabilities")
    t.MetricKind = Enum("MetricKind", "COUNTER GAUGE UNTYPED HISTOGRAM SUMMARY INFO STATESET GAUGE_HISTOGRAM")
    t.Label = record("Label", "name", "value")
    t.Bucket = record("Bucket", "upper_bound", "cumulative_count")
    t.HistogramValue = record("HistogramValue", "buckets", "count", "sum")
    t.Quantile = record("Quantile", "quantile", "value")
    t.SummaryValue = record("SummaryValue", "quantiles", "count", "sum")
    for case in ("Number", "Histogram", "Summary"):
        setattr(t, "MetricValue_" + case, record("MetricValue_" + case, "value"))
    t.Metric = record("Metric", "labels", "value", "timestamp_ms")
    t.MetricFamily = record("MetricFamily", "name", "kind", "help", "unit", "metrics")
    return t


class Hello(Exporter):
    @classmethod
    def metadata(cls):
        return Metadata(
            "hello",
            "0.1.0",
            "Says hello",
            {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
        ).request(Capability.read_path("/proc"), "reads /proc").request_optional(Capability.dns_lookup(), "names")

    def __init__(self, settings):
        self.n = settings["n"]

    def collect(self, out: Registry):
        out.gauge("hello", "Hi.").set(self.n, {"a": "b"})
        out.histogram("h", "").observe(Histogram([(1, 2)], 3, 4.5))
        out.summary("s", "").observe(Summary([(0.5, 1)], 2, 3))


class ComponentTest(unittest.TestCase):
    def setUp(self):
        self.t = fake_types()

    def test_metadata(self):
        m = _component.metadata_to_wit(Hello.metadata(), self.t)
        self.assertEqual((m.name, m.version), ("hello", "0.1.0"))
        self.assertIn('"default":1', m.config_schema)
        self.assertEqual(m.capabilities[0].capability, self.t.Capability_ReadPath("/proc"))
        self.assertFalse(m.capabilities[0].optional)
        self.assertEqual(m.capabilities[1].capability, self.t.Capability_DnsLookup())
        self.assertTrue(m.capabilities[1].optional)

    def test_open_and_collect(self):
        exporter = Hello.open('{"n": 7}')
        out = Registry()
        exporter.collect(out)
        fams = _component.families_to_wit(out, self.t)
        self.assertEqual([f.name for f in fams], ["hello", "h", "s"])
        self.assertEqual(fams[0].kind, self.t.MetricKind.GAUGE)
        self.assertEqual(fams[0].metrics[0].labels, [self.t.Label("a", "b")])
        self.assertEqual(fams[0].metrics[0].value, self.t.MetricValue_Number(7.0))
        h = fams[1].metrics[0].value.value
        self.assertEqual((h.buckets[0].upper_bound, h.buckets[0].cumulative_count, h.count), (1.0, 2, 3))
        self.assertIsInstance(h.buckets[0].cumulative_count, int)
        self.assertEqual(fams[2].metrics[0].value.value.quantiles[0].value, 1.0)
        with self.assertRaisesRegex(InvalidConfig, "config.n: expected integer"):
            Hello.open('{"n": "x"}')

    def test_errors(self):
        t = self.t
        self.assertEqual(_component.error_to_wit(InvalidConfig("x"), t), t.Error_InvalidConfig("x"))
        self.assertEqual(_component.error_to_wit(Denied("d"), t), t.Error_Denied("d"))
        try:
            {}["missing"]
        except KeyError as e:
            other = _component.error_to_wit(e, t)
        self.assertIsInstance(other, t.Error_Other)
        self.assertRegex(other.value, r"KeyError: 'missing' \(at test_component.py:\d+ in test_errors\)")
        self.assertIsInstance(_component.error_from_wit(t.Error_Denied("no")), Denied)


if __name__ == "__main__":
    unittest.main()
