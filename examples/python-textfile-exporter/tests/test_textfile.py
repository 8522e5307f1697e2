"""Tests of the exporter natively: the re-exported families, mtime and
scrape error, merging across files, and hostile directories and files."""

import itertools
import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

from tests import _SDK  # noqa: F401  (puts the SDK on the path)
import textfile
import textparse
from textfile import TextfileExporter
from wasmetheus_sdk import Denied, InvalidConfig, Kind, Registry, host

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


class TextfileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.addCleanup(host.set_native_grants, None)

    def write(self, name, content, mtime=None):
        path = os.path.join(self.dir, name)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def fixture(self, name, mtime=None):
        with open(os.path.join(FIXTURES, name)) as f:
            return self.write(name, f.read(), mtime)

    def collect(self, **settings):
        settings.setdefault("directory", self.dir)
        exporter = TextfileExporter.open(json.dumps(settings))
        out = Registry()
        with host.captured_logs() as logs:
            exporter.collect(out)
        return out, logs

    def test_reexports_files_with_mtime_and_no_error(self):
        good = self.fixture("good.prom", mtime=1_700_000_000)
        other = self.fixture("other.prom", mtime=1_600_000_000.7)
        self.write("ignored.txt", "not_read 1\n")
        os.mkdir(os.path.join(self.dir, "subdir.prom"))
        out, logs = self.collect()
        self.assertEqual(logs, [])
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 0)
        mtime = out.get("node_textfile_mtime_seconds")
        self.assertEqual(mtime.value({"file": good}), 1_700_000_000)
        self.assertEqual(mtime.value({"file": other}), 1_600_000_000)
        self.assertEqual(len(mtime.metrics), 2)
        self.assertIsNone(out.get("not_read"))
        # Merged across files: the HELP of the first, series of both.
        ts = out.get("backup_last_success_timestamp_seconds")
        self.assertEqual(ts.kind, Kind.GAUGE)
        self.assertEqual(len(ts.metrics), 3)
        self.assertEqual(ts.value({"job": "mail"}), 1.5e9)
        self.assertEqual(out.get("backup_runs_total").kind, Kind.COUNTER)
        self.assertEqual(out.get("backup_runs_total").help, f"Metric read from {good}")
        # A counter not named *_total keeps its name as untyped.
        self.assertEqual(out.get("legacy_requests").kind, Kind.UNTYPED)
        h = out.get("backup_duration_seconds")
        self.assertEqual(h.kind, Kind.HISTOGRAM)
        self.assertEqual(h.value({"job": "db"}).buckets, [(1.0, 2), (10.0, 5), (float("inf"), 6)])
        self.assertEqual(out.get("backup_size_bytes").kind, Kind.SUMMARY)
        # Our own families come last, the error flag at the very end.
        self.assertEqual(out.families[-1].name, "node_textfile_scrape_error")

    def test_a_bad_file_is_skipped_and_flagged(self):
        self.fixture("good.prom")
        bad = self.write("bad.prom", "ok_metric 1\nbroken{ 1\n")
        self.write("stamped.prom", "stamped 1 1700000000000\n")
        self.write("junk.prom", b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
        out, logs = self.collect()
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIsNotNone(out.get("backup_runs_total"))
        self.assertIsNone(out.get("ok_metric"))  # the whole file is skipped
        self.assertIsNone(out.get("stamped"))
        self.assertEqual(len(out.get("node_textfile_mtime_seconds").metrics), 1)
        text = "\n".join(logs)
        self.assertIn(f"failed to collect textfile data from {bad}: text format parsing error in line 2", text)
        self.assertIn("unsupported client-side timestamps", text)
        self.assertIn("not UTF-8", text)

    def test_conflicts_between_files(self):
        self.write("a.prom", "# HELP m First.\n# TYPE m gauge\nm{x=\"1\"} 1\n# TYPE t gauge\nt 1\ndup 1\n")
        self.write("b.prom", "# HELP m Second.\n# TYPE m gauge\nm{x=\"2\"} 2\n")
        out, logs = self.collect()
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)  # as upstream
        self.assertEqual(out.get("m").help, "First.")
        self.assertEqual(len(out.get("m").metrics), 1)
        self.assertIn("inconsistent metric help text for m", "\n".join(logs))

    def test_type_conflicts_and_duplicates_are_dropped_but_no_scrape_error(self):
        self.write("a.prom", "# TYPE t gauge\nt 1\ndup{a=\"1\"} 1\n# TYPE s summary\ns_sum 1\ns_count 1\n")
        self.write("b.prom", "# TYPE t counter\nt 2\ndup{a=\"1\"} 2\ndup{a=\"2\"} 3\ns_count 5\nnode_textfile_scrape_error 7\n")
        out, logs = self.collect()
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 0)
        self.assertEqual(out.get("t").kind, Kind.GAUGE)
        self.assertEqual(out.get("t").value(), 1)
        self.assertEqual(out.get("dup").value({"a": "1"}), 1)
        self.assertEqual(out.get("dup").value({"a": "2"}), 3)
        self.assertIsNone(out.get("s_count"))
        text = "\n".join(logs)
        self.assertIn("t in", text)
        self.assertIn("was already read from an earlier file", text)
        self.assertIn("would be named as those of s", text)
        self.assertIn("would be named as those of node_textfile_scrape_error", text)

    def test_hostile_directories_and_files(self):
        self.write("big.prom", "a 1\n" * 1000)
        out, logs = self.collect(max_file_bytes=100)
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIn("larger than the limit of 100 bytes", "\n".join(logs))
        for i in range(3):
            self.write(f"f{i}.prom", f"f{i} 1\n")
        out, logs = self.collect(max_files=2)
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIn("only the first 2 are read", "\n".join(logs))
        # A directory that is not there: the error flag and a log line.
        out, logs = self.collect(directory=os.path.join(self.dir, "missing"))
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIsNone(out.get("node_textfile_mtime_seconds"))  # none read: as upstream, no family
        self.assertIn("failed to read textfile collector directory", "\n".join(logs))

    def test_budgets(self):
        self.write("a.prom", "".join(f'm{{i="{i}"}} 1\n' for i in range(5000)))
        self.write("b.prom", "b 1\n")
        out, logs = self.collect(max_seconds=0.1)
        self.assertEqual(len(out.get("m").metrics), 5000)  # within the time
        ticks = itertools.count()
        with mock.patch.object(textfile.time, "monotonic", lambda: float(next(ticks))):  # a second a call
            out, logs = self.collect(max_seconds=0.1)
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIsNone(out.get("m"))
        self.assertIn("the 0.1 s allowed (max_seconds) ran out", "\n".join(logs))

    def test_too_many_lines(self):
        with self.assertRaisesRegex(textparse.Budget, "more than 2000 lines"):
            textparse.parse("".join(f"m{i} 1\n" for i in range(3000)), None, 2000)

    def test_unreadable_files(self):
        self.fixture("good.prom")
        os.symlink(os.path.join(self.dir, "nowhere"), os.path.join(self.dir, "dangling.prom"))
        out, logs = self.collect()
        self.assertEqual(out.get("node_textfile_scrape_error").value(), 1)
        self.assertIsNotNone(out.get("backup_runs_total"))
        self.assertIn("dangling.prom: No such file or directory", "\n".join(logs))

    def test_a_glob_of_directories(self):
        for sub in ("a", "b", "c"):
            os.mkdir(os.path.join(self.dir, sub))
        self.write("a/one.prom", "one 1\n")
        self.write("b/two.prom", "two 2\n")
        self.write("c/three.txt", "three 3\n")
        out, logs = self.collect(directory=os.path.join(self.dir, "*"))
        self.assertEqual(logs, [])
        self.assertEqual((out.get("one").value(), out.get("two").value()), (1, 2))
        self.assertEqual(len(out.get("node_textfile_mtime_seconds").metrics), 2)
        host.set_native_grants([os.path.join(self.dir, "a")])
        with self.assertRaisesRegex(Denied, f"read path {self.dir}: not granted"):
            TextfileExporter.open(json.dumps({"directory": os.path.join(self.dir, "[ab]")}))

    def test_config(self):
        host.set_native_grants(["/elsewhere"])
        with self.assertRaisesRegex(
            Denied, f"read path {self.dir}: not granted \\(add a read_paths grant of it or of a directory that holds it"
        ):
            TextfileExporter.open('{"directory": "%s"}' % self.dir)
        with self.assertRaisesRegex(InvalidConfig, "must be an absolute path"):
            TextfileExporter.open('{"directory": "relative"}')
        with self.assertRaisesRegex(InvalidConfig, "unknown setting 'dir'"):
            TextfileExporter.open('{"dir": "/x"}')
        with self.assertRaisesRegex(InvalidConfig, "max_file_bytes: 0 is less than the minimum 1"):
            TextfileExporter.open('{"max_file_bytes": 0}')

    def test_metadata(self):
        m = TextfileExporter.metadata()
        self.assertEqual(m.name, "python-textfile-exporter")
        self.assertEqual(m.schema_dict()["examples"][0]["directory"], m.capabilities[0].capability.value)


if __name__ == "__main__":
    unittest.main()
