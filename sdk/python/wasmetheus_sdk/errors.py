"""The errors a plugin call fails with, one per case of the WIT `error`.

Raise them from `open` or `collect`: the host shows the message in the
plugin's status and sets the instance's `up` to 0. Any other exception
reaches the host as `Other`, with its type and message.
"""


class Error(Exception):
    """Base of the plugin errors; `message` says how to fix the problem."""

    #: What the host prefixes the message with.
    prefix = ""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = str(message)

    def __str__(self) -> str:
        return f"{self.prefix}{self.message}"


class InvalidConfig(Error):
    """The configuration given to `open` is invalid; say how to fix it."""

    prefix = "invalid config: "


class Denied(Error):
    """A capability was not granted; name it and the grant to add."""

    prefix = "denied: "


class Unavailable(Error):
    """What the plugin observes failed; a later call may succeed."""

    prefix = "unavailable: "


class Other(Error):
    """Anything else."""
