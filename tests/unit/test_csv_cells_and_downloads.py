"""CSV-injection guard (harness.csv_cells) and Content-Disposition (registry downloads)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from harness.csv_cells import neutralise, restore
from services.registry.downloads import content_disposition

_HEADER = re.compile(r"^attachment; filename=\"([^\"\\\r\n;=%]*)\"; "
                     r"filename\*=UTF-8''([A-Za-z0-9%!#$&+\-.^_`|~]*)$")


@pytest.mark.parametrize("cell,shown", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'=x", "''=x"), ("''-x", "'''-x"),
    ("plain", "plain"), ("'quoted", "'quoted"), ("a=b", "a=b"), ("", ""), (-5, -5),
    (None, None)])
def test_formula_cells_get_one_quote_and_the_import_takes_it_back(cell, shown):
    assert neutralise(cell) == shown
    if isinstance(cell, str):
        assert restore(neutralise(cell)) == cell  # exact round trip
        assert restore(cell) == cell or cell.startswith("'")


@pytest.mark.parametrize("name", [
    "회귀 테스트.csv", 'x"; filename=evil.exe.csv', "a\r\nX-Injected: 1.csv",
    "back\\slash%41.jsonl", "run-0b7c.json", "   "])
def test_content_disposition_is_one_safe_header_with_the_exact_name(name):
    value = content_disposition(name)
    value.encode("latin-1")  # a header Starlette can send
    m = _HEADER.match(value)
    assert m, value
    assert unquote(m.group(2)) == name
    assert m.group(1).strip()  # a non-empty ASCII fallback
