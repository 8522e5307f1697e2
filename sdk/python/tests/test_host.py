"""Tests of the host helpers natively: grants, reading files, errors."""

import os
import tempfile
import unittest

from wasmetheus_sdk import Denied, Unavailable, host


class HostTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "a.txt")
        with open(self.path, "w") as f:
            f.write("hello\n")

    def tearDown(self):
        host.set_native_grants(None)
        self.dir.cleanup()

    def test_reads_granted_files(self):
        host.set_native_grants([self.dir.name])
        self.assertEqual(host.read_text(self.path), "hello\n")
        self.assertEqual(host.read_file(self.path), "hello\n")
        self.assertEqual(host.list_dir(self.dir.name), ["a.txt"])
        self.assertEqual(host.stat(self.path).st_size, 6)

    def test_not_granted_says_which_directory_to_grant(self):
        host.set_native_grants(["/nonexistent-grant"])
        with self.assertRaises(Denied) as cm:
            host.read_text(self.path)
        self.assertEqual(
            str(cm.exception),
            f"denied: read path {self.path}: not granted (add a read_paths grant of a "
            f"directory that holds it, e.g. {self.dir.name})",
        )
        for call in (host.read_bytes, host.read_file, host.stat):
            with self.assertRaisesRegex(Denied, "not granted"):
                call(self.path)
        with self.assertRaises(Denied) as cm:
            host.list_dir(self.dir.name)
        self.assertIn(f"add a read_paths grant of it or of a directory that holds it, e.g. {self.dir.name}", str(cm.exception))
        with self.assertRaisesRegex(Denied, "give an absolute path"):
            host.read_text("relative/a.txt")

    def test_native_grants_deny_before_opening(self):
        # A file that exists and is readable is still refused when outside
        # the grants, as in the host; a missing one outside them too.
        host.set_native_grants([os.path.join(self.dir.name, "sub")])
        with self.assertRaisesRegex(Denied, "not granted"):
            host.read_text(self.path)
        with self.assertRaisesRegex(Denied, "not granted"):
            host.read_text(os.path.join(self.dir.name, "missing"))
        host.set_native_grants([])
        with self.assertRaisesRegex(Denied, "not granted"):
            host.read_text("/proc/self/status")
        with self.assertRaisesRegex(Denied, r"e\.g\. /proc\)"):
            host.read_text("/proc/loadavg")

    def test_lexical_checks(self):
        # `..` never climbs out of a grant, a sibling prefix is no grant.
        host.set_native_grants([self.dir.name])
        self.assertFalse(host.is_granted(self.dir.name + "/../etc/passwd"))
        self.assertFalse(host.is_granted(self.dir.name + "x/a"))
        self.assertFalse(host.is_granted("relative/path"))
        self.assertTrue(host.is_granted(self.dir.name + "/sub/file"))
        self.assertTrue(host.is_granted(self.dir.name))
        with self.assertRaisesRegex(Denied, "not granted"):
            host.read_text(self.dir.name + "/../" + os.path.basename(self.dir.name) + "/a.txt")

    def test_granted_but_unreadable(self):
        host.set_native_grants([self.dir.name])
        err = host.io_error(self.path, PermissionError(13, "Permission denied"))
        self.assertIsInstance(err, Denied)
        self.assertIn("it is granted, but the server's user may not read it", str(err))
        err = host.io_error(self.path, FileNotFoundError(2, "No such file"))
        self.assertIsInstance(err, Unavailable)

    def test_missing_huge_and_binary_files(self):
        with self.assertRaisesRegex(Unavailable, "No such file"):
            host.read_text(os.path.join(self.dir.name, "missing"))
        with self.assertRaisesRegex(Unavailable, "larger than the limit of 3 bytes"):
            host.read_text(self.path, max_bytes=3)
        junk = os.path.join(self.dir.name, "junk")
        with open(junk, "wb") as f:
            f.write(b"ok\xff\xfe")
        with self.assertRaisesRegex(Unavailable, "not UTF-8 text .* offset 2"):
            host.read_text(junk)

    def test_log_natively_writes_to_stderr(self):
        host.log("info", "to stderr")
        with host.captured_logs() as lines:
            host.error("went wrong")
            host.debug("detail")
        self.assertEqual(lines, ["error: went wrong", "debug: detail"])
        with self.assertRaisesRegex(ValueError, "not one of"):
            host.log("loud", "x")
        self.assertEqual(host.instance_name(), "native")
        with self.assertRaises(Unavailable):
            host.filesystem_usage("/")


if __name__ == "__main__":
    unittest.main()
