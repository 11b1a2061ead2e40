"""Applying Piccolo's migrations from code (the CLI, `serve` on an empty database, the tests)."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards

from testbed.errors import TestbedError


async def apply_migrations() -> str:
    """Apply every pending migration; return what Piccolo reported, in one line."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        result = await run_forwards(app_name="testbed", migration_id="all")
    lines = [line.strip() for line in report.getvalue().splitlines() if line.strip()]
    if not result.success:
        raise TestbedError(f"Migrations failed: {result.message}", status_code=500)
    ran = [line for line in lines if line.endswith("ok! ✔️") or "[forwards]" in line]
    return f"Applied {len(ran)} migration(s)." if ran else "Database schema is up to date."
