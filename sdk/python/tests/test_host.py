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

    def test_not_granted_says_which_grant_to_add(self):
        host.set_native_grants(["/nonexistent-grant"])
        with self.assertRaises(Denied) as cm:
            host.read_text(self.path)
        self.assertIn(f"read path {self.path} is not granted", str(cm.exception))
        self.assertIn("grants.read_paths", str(cm.exception))
        with self.assertRaises(Denied):
            host.list_dir(self.dir.name)
        # `..` never climbs out of a grant, a sibling prefix is no grant.
        host.set_native_grants([self.dir.name])
        self.assertFalse(host.is_granted(self.dir.name + "/../etc/passwd"))
        self.assertFalse(host.is_granted(self.dir.name + "x/a"))
        self.assertFalse(host.is_granted("relative/path"))
        self.assertTrue(host.is_granted(self.dir.name + "/sub/file"))

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
