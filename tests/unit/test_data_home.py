"""One data directory per user, wherever a command runs: HARNESS_DATA_DIR, else
HARNESS_HOME, else the platform's user data folder (never the current folder)."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from harness.config import Settings


@pytest.fixture(autouse=True)
def _clean(monkeypatch, tmp_path):
    for name in ("HARNESS_DATA_DIR", "HARNESS_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_default_is_the_users_data_folder_not_the_current_one():
    s = Settings()
    assert s.data_dir == Path(platformdirs.user_data_dir("harness", appauthor=False))
    assert s.data_dir.is_absolute()
    assert s.pgdata_dir == s.data_dir / "pgdata"


def test_harness_home_and_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    assert Settings().data_dir == tmp_path / "home"
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "explicit"))
    assert Settings().data_dir == tmp_path / "explicit"  # the older, more specific name wins
