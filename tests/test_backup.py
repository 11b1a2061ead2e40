"""`testbed backup` and `testbed restore` on the suite's database (SQLite, or PostgreSQL when
DATABASE_URL is set): a round trip brings back the data as they were at backup time."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys

import pytest

from testbed.settings import ROOT
from testbed.tables import Organization, Product
from tests.web.conftest import seed_people


def _testbed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "testbed.cli", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _snapshot() -> tuple[list[str], list[str]]:
    organizations = await Organization.select(Organization.slug).order_by(Organization.slug)
    products = await Product.select(Product.name).order_by(Product.name)
    return [row["slug"] for row in organizations], [row["name"] for row in products]


async def _change_everything() -> None:
    await Organization.insert(Organization(kind="vendor", name="Late Co", slug="late-co"))
    await Product.update({Product.name: "Renamed"}, force=True)


def test_restore_brings_back_the_data_as_at_backup_time(settings, tmp_path):
    asyncio.run(seed_people())
    at_backup = asyncio.run(_snapshot())
    path = tmp_path / "backups" / "testbed.backup"

    made = _testbed("backup", str(path))
    assert made.returncode == 0, made.stderr
    assert path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == ["testbed.backup"]  # no partial file left

    asyncio.run(_change_everything())
    assert asyncio.run(_snapshot()) != at_backup

    restored = _testbed("restore", "--yes", str(path))
    assert restored.returncode == 0, restored.stderr
    assert asyncio.run(_snapshot()) == at_backup
    if not settings.uses_postgres:
        with sqlite3.connect(settings.sqlite_path) as database:
            assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # The restored database is usable as before: writes, then the same migrations are recorded.
    asyncio.run(_change_everything())
    assert "late-co" in asyncio.run(_snapshot())[0]
    migrate = _testbed("migrate")
    assert migrate.stdout.strip() == "Database schema is up to date.", migrate.stderr


def test_restore_refuses_a_file_that_is_not_a_backup_and_changes_nothing(settings, tmp_path):
    asyncio.run(seed_people())
    before = asyncio.run(_snapshot())
    not_a_backup = tmp_path / "notes.backup"
    not_a_backup.write_text("these are not the rows you are looking for\n" * 100)

    refused = _testbed("restore", "--yes", str(not_a_backup))

    assert refused.returncode == 2
    assert "Error:" in refused.stderr
    assert asyncio.run(_snapshot()) == before


def test_restore_asks_before_replacing_the_data(settings, tmp_path):
    path = tmp_path / "testbed.backup"
    assert _testbed("backup", str(path)).returncode == 0
    declined = subprocess.run(
        [sys.executable, "-m", "testbed.cli", "restore", str(path)],
        cwd=ROOT,
        env=dict(os.environ),
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert declined.returncode == 1
    assert "Aborted" in declined.stderr


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_commands_are_listed(command):
    listed = _testbed("--help")
    assert command in listed.stdout
