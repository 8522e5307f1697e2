"""Tests of the registry builder: families, labels, values, mistakes."""

import unittest

from wasmetheus_sdk import Histogram, Kind, Registry, Summary


class RegistryTest(unittest.TestCase):
    def test_same_name_appends_to_one_family(self):
        out = Registry()
        out.counter("c_total", "h").set(1, {"a": "1"})
        out.counter("c_total", "h").set(2, [("a", "2")])
        out.gauge("g_bytes", "h").unit("bytes").set(3)
        self.assertEqual([f.name for f in out.families], ["c_total", "g_bytes"])
        c = out.get("c_total")
        self.assertEqual(len(c.metrics), 2)
        self.assertEqual(c.metrics[1].label("a"), "2")
        self.assertEqual(c.value({"a": "2"}), 2.0)
        self.assertEqual(out.get("g_bytes").unit, "bytes")
        self.assertIsInstance(out.get("g_bytes").value(), float)

    def test_every_kind(self):
        out = Registry()
        out.untyped("u", "").set(1)
        out.info("build", "Build.").info({"version": "1.2"})
        h = Histogram(buckets=[(0.1, 1), (1.0, 3)], count=4, sum=2.5)
        out.histogram("lat_seconds", "L").unit("seconds").observe(h, {"op": "r"})
        s = Summary(quantiles=[(0.5, 0.2), (0.99, 1.5)], count=10, sum=4.0)
        out.summary("rpc", "R").observe(s)
        self.assertEqual(out.get("u").kind, Kind.UNTYPED)
        self.assertEqual(out.get("build").value({"version": "1.2"}), 1.0)
        self.assertEqual(out.get("lat_seconds").value({"op": "r"}).count, 4)
        self.assertEqual(out.get("rpc").value().quantiles[1], (0.99, 1.5))

    def test_mistakes_fail_with_a_clear_message(self):
        out = Registry()
        with self.assertRaisesRegex(ValueError, "invalid metric name '1x'"):
            out.gauge("1x", "")
        with self.assertRaisesRegex(ValueError, "invalid label name '__x'"):
            out.gauge("g", "").set(1, {"__x": "1"})
        with self.assertRaisesRegex(ValueError, "invalid label name 'a-b'"):
            out.gauge("g", "").set(1, {"a-b": "1"})
        with self.assertRaisesRegex(ValueError, "duplicate label 'a'"):
            out.gauge("g", "").set(1, [("a", "1"), ("a", "2")])
        with self.assertRaisesRegex(ValueError, "is a gauge, not a counter"):
            out.counter("g", "")
        with self.assertRaisesRegex(ValueError, "use observe"):
            out.histogram("h", "").set(1)
        with self.assertRaisesRegex(ValueError, "cannot hold a Summary"):
            out.histogram("h", "").observe(Summary())
        with self.assertRaisesRegex(ValueError, "bounds must increase"):
            out.histogram("h", "").observe(Histogram(buckets=[(1, 1), (0.5, 1)]))
        with self.assertRaises(ValueError):
            out.gauge("g", "").set("not a number")


if __name__ == "__main__":
    unittest.main()
