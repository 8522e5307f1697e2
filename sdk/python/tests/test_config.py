"""Tests of config parsing against a schema, hostile input included."""

import unittest

from wasmetheus_sdk import InvalidConfig, parse_config
from wasmetheus_sdk.config import MAX_CONFIG_BYTES

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "directory": {"type": "string", "minLength": 1},
        "max_files": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "mode": {"enum": ["fast", "slow"], "default": "fast"},
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
    },
    "required": ["directory"],
}


class ConfigTest(unittest.TestCase):
    def bad(self, text, message):
        with self.assertRaises(InvalidConfig) as cm:
            parse_config(text, SCHEMA)
        self.assertIn(message, str(cm.exception))
        self.assertTrue(str(cm.exception).startswith("invalid config: "))

    def test_defaults_are_filled_in(self):
        self.assertEqual(
            parse_config('{"directory": "/x"}', SCHEMA),
            {"directory": "/x", "max_files": 10, "mode": "fast", "tags": []},
        )
        self.assertEqual(parse_config("", None), {})
        self.assertEqual(parse_config("  ", {"type": "object"}), {})

    def test_errors_name_the_setting(self):
        self.bad('{"directory": 42}', "config.directory: expected string, got 42")
        self.bad('{"dirctory": "/x"}', "unknown setting 'dirctory' (known settings: directory, max_files, mode, tags)")
        self.bad("{}", "the setting 'directory' is required")
        self.bad('{"directory": "/x", "max_files": 0}', "config.max_files: 0 is less than the minimum 1")
        self.bad('{"directory": "/x", "max_files": 1.5}', "expected integer")
        self.bad('{"directory": "/x", "max_files": true}', "expected integer, got true")
        self.bad('{"directory": "/x", "mode": "medium"}', 'is not one of "fast", "slow"')
        self.bad('{"directory": "/x", "tags": ["a", 1]}', "config.tags[1]: expected string")
        self.bad('{"directory": ""}', "at least 1 characters")

    def test_hostile_input(self):
        self.bad("{", "config is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2")
        self.bad('{\n  "directory": "/x",\n  oops\n}', "config is not valid JSON: Expecting property name enclosed in double quotes at line 3 column 3")
        self.bad("[1, 2]", "config: expected a JSON object of settings, got [1, 2]")
        self.bad("\x00\xff", "config is not valid JSON")
        self.bad(b"\xff\xfe{", "config is not valid JSON")
        self.bad('{"directory": "/x", "max_files": NaN}', "config is not valid JSON: NaN is not a JSON number")
        self.bad("[" * 100000 + "]" * 100000, "nested too deeply")
        self.bad('{"directory": "/x", "max_files": "' + "y" * 1000 + '"}', "...")

    def test_duplicate_keys_are_refused(self):
        self.bad('{"directory": "/x", "directory": "/y"}', "config gives the key 'directory' twice in one object; keep one")
        self.bad('{"directory": "/x", "tags": [{"a": 1, "a": 2}]}', "the key 'a' twice")
        self.assertEqual(parse_config('{"a": {"k": 1}, "b": {"k": 2}}'), {"a": {"k": 1}, "b": {"k": 2}})

    def test_size_limit_is_one_mib_of_bytes(self):
        self.bad(" " * (MAX_CONFIG_BYTES + 1), f"config is {MAX_CONFIG_BYTES + 1} bytes, more than the limit of {MAX_CONFIG_BYTES} bytes (1 MiB)")
        # Counted in UTF-8 bytes, not characters.
        wide = '{"directory": "' + "é" * (MAX_CONFIG_BYTES // 2) + '"}'
        self.bad(wide, "more than the limit")
        self.bad(wide.encode(), "more than the limit")
        # Just under the limit parses.
        fits = '{"directory": "' + "x" * (MAX_CONFIG_BYTES - 20) + '"}'
        self.assertEqual(len(parse_config(fits, SCHEMA)["directory"]), MAX_CONFIG_BYTES - 20)

if __name__ == "__main__":
    unittest.main()
