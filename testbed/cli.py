"""The `testbed` command: serve, migrate, demo, createadmin."""

from __future__ import annotations

import asyncio
import os
import sys

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
        proxy_headers=True,
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


if __name__ == "__main__":
    main()
