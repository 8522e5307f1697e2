"""Native unit tests of wasmetheus_sdk (`python3 -m unittest` here)."""
