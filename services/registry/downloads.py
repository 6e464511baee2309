"""Response headers for files the registry hands out (dataset and run exports).

``Content-Disposition`` carries the name twice (RFC 6266 with RFC 5987/8187 encoding):
``filename`` is an ASCII-only fallback with every other character (quotes, backslashes,
CR/LF, non-ASCII) replaced by ``_``, and ``filename*`` the exact name, UTF-8 and
percent-encoded. A dataset named in Korean, or with a ``"`` or a line break in its name,
then neither breaks the header (a 500, a dropped connection) nor injects parameters.
"""

from __future__ import annotations

import re
from urllib.parse import quote

RAW_HELP = ("CSV only: cells exactly as stored. By default a cell starting with =, +, -, @, "
            "a tab or a carriage return gets a leading ' so spreadsheets show it as text "
            "(OWASP CSV injection); the dataset import removes that quote again.")

# RFC 5987 attr-char besides letters and digits: what may stand unencoded in filename*
_ATTR_CHARS = "!#$&+-.^_`|~"
# the fallback keeps plain characters only: no quote, backslash, ";", "=", "%" or control
_UNSAFE_FALLBACK = re.compile(r"[^A-Za-z0-9 ._()\[\]{}+@!#$&^~-]")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="<ascii fallback>"; filename*=UTF-8''<exact name>``."""
    fallback = _UNSAFE_FALLBACK.sub("_", filename).strip() or "download"
    exact = quote(filename, safe=_ATTR_CHARS)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
