"""Errors of the promptfoo interop layer."""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A promptfoo config (or a file it points to) that cannot be used.

    ``file`` is the file at fault and ``location`` where in it: a field path such as
    ``tests[2].assert[0]``, a CSV ``row 3, column __expected``, or a YAML ``line 4``.
    """

    def __init__(self, message: str, *, file: Path | str | None = None,
                 location: str | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.location = location
        where = ": ".join(part for part in (self.file, location) if part)
        super().__init__(f"{where}: {message}" if where else message)


class PromptfooUnavailable(RuntimeError):
    """The real promptfoo CLI cannot be run on this machine."""


class PromptfooRunError(RuntimeError):
    """The real promptfoo CLI ran but did not produce results."""
