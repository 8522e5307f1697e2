"""Tests of the text format parser: what it accepts, and each malformed
line it refuses, as Go's expfmt does."""

import math
import os
import unittest

from tests import _SDK  # noqa: F401  (puts the SDK on the path)
from textparse import ParseError, parse

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


class ParseTest(unittest.TestCase):
    def test_a_full_file(self):
        with open(os.path.join(FIXTURES, "good.prom")) as f:
            families = parse(f.read())
        ts = families["backup_last_success_timestamp_seconds"]
        self.assertEqual((ts.type, ts.help), ("gauge", "When the last backup succeeded."))
        by_job = {dict(s.labels)["job"]: s for s in ts.series.values()}
        self.assertEqual(dict(by_job["db"].labels)["path"], "C:\\backups\\db")
        self.assertEqual(dict(by_job["web"].labels)["note"], 'line\nbreak "quoted"')
        self.assertEqual(by_job["db"].value, 1.7e9)
        h = families["backup_duration_seconds"].series[(("job", "db"),)]
        self.assertEqual(h.buckets, {1.0: 2, 10.0: 5, math.inf: 6})
        self.assertEqual((h.count, h.sum), (6, 31.5))
        s = families["backup_size_bytes"].series[()]
        self.assertEqual(s.quantiles, {0.5: 1024.0, 0.99: 4096.0})
        self.assertEqual((s.count, s.sum), (7, 10240.0))
        self.assertTrue(math.isnan(families["backup_files"].series[(("kind", "full"),)].value))
        self.assertEqual(families["backup_errors"].series[()].value, -math.inf)
        self.assertEqual(families["backup_errors"].type, "untyped")

    def test_help_escapes_and_blanks(self):
        families = parse("# HELP a back\\\\slash\\nnewline\n\t a{x = \"1\" , } 2  \r\n")
        self.assertEqual(families["a"].help, "back\\slash\nnewline")
        self.assertEqual(families["a"].series[(("x", "1"),)].value, 2.0)

    def test_timestamps_are_noted(self):
        self.assertTrue(parse("a 1 1700000000000\n")["a"].series[()].timestamped)

    def test_a_histogram_without_count_takes_its_inf_bucket(self):
        h = parse('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 4\n')["h"].series[()]
        self.assertEqual(h.count, 4)

    def test_malformed_lines(self):
        cases = {
            "a{b=\"1\"": "unterminated value|unexpected",
            "a{b=1} 2": "expected '\"'",
            "a{b=\"\\x\"} 1": "invalid escape sequence",
            "a{b=\"1\",b=\"2\"} 1": "duplicate label name 'b'",
            "a{__b=\"1\"} 1": "reserved",
            "a{1b=\"1\"} 1": "invalid label name",
            "a one": "expected float as value",
            "a 1_0": "expected float as value",
            "a 1 1.5": "expected integer as timestamp",
            "a 1 2 3": "after the timestamp",
            "1a 1": "invalid metric name",
            "a": "expected a blank",
            "a 1\na 2": "duplicate series",
            "# TYPE a gauge\n# TYPE a gauge": "second TYPE line",
            "a 1\n# TYPE a gauge": "TYPE reported after samples",
            "# HELP a x\n# HELP a y": "second HELP line",
            "# TYPE a nonsense": "unknown metric type",
            "# HELP a bad\\escape": "invalid escape sequence",
            "# TYPE h histogram\nh_bucket 1": "without an 'le' label",
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1": "'le' label",
            "# TYPE h histogram\nh 1": "no _bucket, _sum or _count",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3": "decrease",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 5\nh_count 3": "less than the last bucket",
            "# TYPE h histogram\nh_bucket{le=\"1\"} -1": "is not a count",
            "# TYPE s summary\ns 1": "without a 'quantile' label",
            "# TYPE s summary\ns{quantile=\"2\"} 1": "outside \\[0, 1\\]",
            "a{b=\"" + "x" * 5000 + "\"} 1": "longer than 4096 bytes",
            "a{" + ",".join(f'l{i}="1"' for i in range(65)) + "} 1": "more than 64",
            "\x00\x01junk": "invalid metric name",
        }
        for text, message in cases.items():
            with self.subTest(text=text[:60]):
                with self.assertRaisesRegex(ParseError, message):
                    parse(text)

    def test_errors_name_the_line(self):
        with self.assertRaisesRegex(ParseError, "line 3"):
            parse("a 1\n\nb x\n")


if __name__ == "__main__":
    unittest.main()
