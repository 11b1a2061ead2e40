"""The `testbed` command: serve, migrate, demo, draw-plots, createadmin, backup, restore,
notify-work, send-digests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from testbed.settings import Settings


def _use_testbed_piccolo_conf() -> None:
    # Piccolo finds its engine through this module path; the CLI may run from any directory.
    os.environ.setdefault("PICCOLO_CONF", "testbed.piccolo_conf")


@click.group()
def main() -> None:
    """Testbed: the pilot tracker of a network of innovative school districts."""
    _use_testbed_piccolo_conf()


@main.command()
def migrate() -> None:
    """Apply the database migrations (safe to run again)."""
    from testbed.migrate import apply_migrations

    message = asyncio.run(apply_migrations())
    click.echo(message)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve Testbed over HTTP; applies pending migrations first."""
    import uvicorn

    from testbed.migrate import apply_migrations

    settings = Settings.from_env()
    click.echo(asyncio.run(apply_migrations()))
    database = (
        settings.database_url.split("@")[-1] if settings.uses_postgres else settings.sqlite_path
    )
    click.echo(f"Database: {database}")
    click.echo(f"Serving Testbed at http://{host}:{port} with {workers} worker(s)")
    uvicorn.run(
        "testbed.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        # Forwarded headers are read by the app, from TESTBED_TRUSTED_PROXIES only (uvicorn's
        # own default would believe any client on 127.0.0.1).
        proxy_headers=False,
    )


@main.command()
@click.option(
    "--scale",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Multiply the network's size (10 and 100 are used by the benchmarks).",
)
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Delete everything in the database first.")
def demo(scale: int, seed: int, reset: bool) -> None:
    """Load the fictional demo network (skipped if the database already has data)."""
    from testbed.demo import load_demo
    from testbed.migrate import apply_migrations

    click.echo(asyncio.run(apply_migrations()))
    summary = asyncio.run(load_demo(scale=scale, seed=seed, reset=reset))
    click.echo(summary)


@main.command()
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.password_option(
    help="Prompted for when not given (or set TESTBED_ADMIN_PASSWORD).",
    envvar="TESTBED_ADMIN_PASSWORD",
)
def createadmin(email: str, name: str, password: str) -> None:
    """Create a network administrator (or promote an existing user)."""
    from testbed.accounts.services import create_network_admin
    from testbed.errors import TestbedError
    from testbed.migrate import apply_migrations

    asyncio.run(apply_migrations())
    try:
        created = asyncio.run(create_network_admin(email=email, name=name, password=password))
    except TestbedError as error:
        click.echo(f"Error: {error.detail}", err=True)
        for problem in error.errors:
            message = problem.get("message") if isinstance(problem, dict) else problem
            click.echo(f"  - {message}", err=True)
        sys.exit(2)
    click.echo(f"{'Created' if created else 'Promoted'} network administrator {email}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Write a consistent copy of the database to PATH (safe while serving)."""
    from testbed.backup import BackupError
    from testbed.backup import backup as back_up

    try:
        click.echo(back_up(Settings.from_env(), path))
    except BackupError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(path: Path, yes: bool) -> None:
    """Replace the database's contents with the backup at PATH. Stop the service first."""
    from testbed.backup import BackupError
    from testbed.backup import restore as restore_from

    if not yes:
        click.confirm(
            "This replaces everything in the database with the backup. Continue?", abort=True
        )
    try:
        click.echo(restore_from(Settings.from_env(), path))
    except BackupError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)


@main.command("notify-work")
def notify_work() -> None:
    """Turn new "Your work" items (a design to register, data due, a finding to approve, an
    overdue result) into notifications and their mail. Each worker does this every 5 minutes;
    run it from cron when TESTBED_NOTIFICATION_SWEEP_SECONDS is 0."""
    from testbed.notifications.background import notify_new_work
    from testbed.notifications.mailing import configure

    configure(Settings.from_env())
    click.echo(f"{asyncio.run(notify_new_work())} new notification(s)")


@main.command("send-digests")
def send_digests() -> None:
    """Queue the daily digests that are due (once per person per day, however often this runs;
    safe beside running workers). The outbox sender of a running worker delivers them."""
    from testbed.notifications.mailing import send_digests as queue_digests

    click.echo(f"{asyncio.run(queue_digests(Settings.from_env()))} digest(s) queued")


@main.command("draw-plots")
def draw_plots() -> None:
    """Draw and store the plots of published findings and evidence pages that nobody drew yet
    (after `testbed demo`, say). Each worker also does it in the background when it starts."""
    from testbed.drawings import warm_up
    from testbed.migrate import apply_migrations

    asyncio.run(apply_migrations())
    click.echo(f"Drew the plots of {asyncio.run(warm_up())} finding(s) and evidence page(s)")


if __name__ == "__main__":
    main()
