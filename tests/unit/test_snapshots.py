"""The dataset snapshot format: canonical lines, read back only with the pinned hash."""

from __future__ import annotations

import hashlib

import pytest

from harness.datasets.snapshots import read_snapshot, snapshot_bytes, snapshot_line

CASES = [{"id": "c1", "input": {"q": "a"}, "expected_output": None, "metadata": {},
          "assert": [], "threshold": None},
         {"threshold": 0.5, "id": "c2", "input": {"b": 1, "a": 2}, "assert": [],
          "metadata": {"k": "v"}, "expected_output": "x"}]


def test_the_same_case_is_the_same_bytes_whatever_its_key_order():
    reordered = dict(reversed(list(CASES[1].items())))
    assert snapshot_line(reordered) == snapshot_line(CASES[1])
    assert snapshot_line(CASES[1]).startswith(b'{"assert":[]')


def test_a_snapshot_reads_back_with_its_hash_and_is_refused_with_another():
    data = snapshot_bytes([snapshot_line(c) for c in CASES])
    assert data.endswith(b"\n") and data.count(b"\n") == 2
    assert read_snapshot(data, hashlib.sha256(data).hexdigest()) == CASES
    with pytest.raises(ValueError, match="does not match"):
        read_snapshot(data + b"\n{}", hashlib.sha256(data).hexdigest())


def test_an_empty_dataset_is_an_empty_snapshot():
    assert snapshot_bytes([]) == b""
    assert read_snapshot(b"", hashlib.sha256(b"").hexdigest()) == []
