"""The CLI does not depend on the current folder: one database per user (HARNESS_HOME),
each command says which database it uses, and a read command never creates an empty one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support import processes

HARNESS = [sys.executable, "-m", "services.cli"]
UNSET = ("DATABASE_URL", "HARNESS_DATABASE_URL", "HARNESS_DATA_DIR", "HARNESS_URL",
         "HARNESS_API_KEY")


def _run(args: list[str], cwd: Path, home: Path, timeout: float = 240):
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(HARNESS_HOME=str(home), HARNESS_LOG_JSON="false", COLUMNS="200")
    return processes.run([*HARNESS, *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)


def test_read_commands_refuse_to_create_an_empty_database(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["prompts", "export", "out"], ["promotions", "list"]):
        r = _run(args, elsewhere, home)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "no harness database" in r.stderr and str(home / "pgdata") in r.stderr, r.stderr
        assert "HARNESS_HOME" in r.stderr
    assert not (home / "pgdata").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == []  # no .harness, no out/


def test_one_database_per_user_whatever_the_current_folder(tmp_path):
    home, clone, elsewhere = tmp_path / "home", tmp_path / "clone", tmp_path / "elsewhere"
    clone.mkdir()
    elsewhere.mkdir()
    r = _run(["demo"], clone, home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (home / "pgdata" / "PG_VERSION").exists()
    assert not (clone / ".harness").exists()
    r = _run(["prompts", "export", "out"], elsewhere, home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wrote 1 prompt file(s)" in r.stdout
    assert (elsewhere / "out" / "support-reply.yaml").exists()
    assert f"database: embedded PostgreSQL in {home / 'pgdata'}" in r.stderr, r.stderr
    assert not (elsewhere / ".harness").exists()


def test_a_database_left_in_the_clone_by_an_older_version_is_pointed_out(tmp_path):
    home, clone = tmp_path / "home", tmp_path / "clone"
    (clone / ".harness" / "pgdata").mkdir(parents=True)
    (clone / ".harness" / "pgdata" / "PG_VERSION").write_text("16\n")
    r = _run(["prompts", "export", "out"], clone, home)
    assert r.returncode == 2
    assert "HARNESS_HOME=.harness" in r.stderr, r.stderr
