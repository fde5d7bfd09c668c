"""User-facing errors: one line that names the file, field and fix.

The CLI catches :class:`OfftargetError` and prints its message without a traceback,
exiting non-zero. Anything else is a bug and keeps its traceback.
"""


class OfftargetError(Exception):
    """A user mistake or bad input (malformed file, missing checkpoint, NaN) with a one-line fix."""


class AlreadyDone(OfftargetError):
    """Nothing to do (a finished run asked to resume): the CLI prints the message and exits 0."""

    exit_code = 0
