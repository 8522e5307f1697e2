"""Native tests of python-textfile-exporter (`python3 -m unittest` in the
example's directory, with the SDK on PYTHONPATH)."""

import os
import sys

# Run from a checkout without `cargo xtask`: find the SDK next door.
_SDK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "sdk", "python")
if os.path.isdir(_SDK) and _SDK not in sys.path:
    sys.path.insert(0, os.path.abspath(_SDK))
