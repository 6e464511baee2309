"""``?q=`` name searches: the text a user typed is matched literally.

``LIKE``/``ILIKE`` treat ``%`` and ``_`` as wildcards and ``\\`` as their escape, so
``q=100%`` or ``q=a_b`` used to match far more than asked. :func:`contains_pattern`
escapes all three; queries use it with ``ILIKE $n ESCAPE '\\'`` (the escape spelled out,
not left to the server's default).
"""

from __future__ import annotations


def escape_like(text: str) -> str:
    """``text`` with the LIKE escape character, ``%`` and ``_`` escaped by ``\\``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(q: str | None) -> str:
    """The ILIKE pattern of "name contains ``q``" (everything when ``q`` is empty)."""
    return f"%{escape_like(q)}%" if q else "%"
