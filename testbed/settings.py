"""Settings, read from the environment in this one place.

| variable             | meaning                                             | default            |
|----------------------|-----------------------------------------------------|--------------------|
| TESTBED_DATA_DIR     | where the SQLite file, secret key and uploads live  | ./data             |
| DATABASE_URL         | postgresql://user@host:port/db to use PostgreSQL    | (SQLite)           |
| TESTBED_SECRET_KEY   | signs CSRF tokens and hashes student keys           | generated, kept in |
|                      |                                                     | DATA_DIR/secret.key|
| TESTBED_DEBUG        | 1 shows tracebacks instead of the friendly 500 page | 0                  |
| TESTBED_SECURE_COOKIES | 1 marks cookies Secure and sends HSTS (HTTPS)     | 0                  |
| TESTBED_MAX_UPLOAD_MB | largest outcome data file accepted, in megabytes   | 50                 |
| TESTBED_CONTACT_EMAIL | the network's address on the contact page          | help@testbed.example
| TESTBED_TRUSTED_PROXIES | comma-separated IPs/CIDRs of reverse proxies whose | (none)            |
|                      | X-Forwarded-For/-Proto headers are believed         |                    |
| TESTBED_SMTP_URL     | where mail is sent: smtp://, smtp+starttls:// or     | (mail written to   |
|                      | smtps://user:password@host:port                     | DATA_DIR/outbox)   |
| TESTBED_MAIL_FROM    | the From address of every mail                      | testbed@localhost  |
| TESTBED_BASE_URL     | the public address links in mail start with         | http://127.0.0.1:8000
| TESTBED_NOTIFICATION_SWEEP_SECONDS | how often each worker turns new "Your work" | 300 (0 off)|
|                      | items into notifications and sends due digests      |                    |
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    secret_key: str
    debug: bool = False
    secure_cookies: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024
    contact_email: str = "help@testbed.example"
    trusted_proxies: tuple[str, ...] = ()
    smtp_url: str | None = None
    mail_from: str = "testbed@localhost"
    base_url: str = "http://127.0.0.1:8000"
    # How often the background sender looks for mail to send; 0 runs no sender (tests that
    # drive `testbed.mail.outbox.deliver_due` themselves).
    mail_poll_seconds: float = 5.0
    # How often each worker turns new action items into notifications (and their mail) and
    # sends the daily digests that are due; 0 runs neither (cron runs `testbed notify-work` and
    # `testbed send-digests` instead, and the tests call them when they mean to).
    notification_sweep_seconds: float = 300.0
    # Whether each worker, when it starts, draws and stores the plots of published findings and
    # evidence pages nobody drew yet (testbed.drawings.warm_up), in the background.
    draw_at_start: bool = True

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "testbed.sqlite"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("TESTBED_DATA_DIR") or ROOT / "data").resolve()
        database_url = env.get("DATABASE_URL") or None
        if database_url and not database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                f"DATABASE_URL must start with postgresql:// (got {database_url.split(':')[0]}://);"
                " leave it unset to use SQLite in TESTBED_DATA_DIR"
            )
        secret_key = env.get("TESTBED_SECRET_KEY") or _stored_secret(data_dir)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            debug=_flag(env.get("TESTBED_DEBUG")),
            secure_cookies=_flag(env.get("TESTBED_SECURE_COOKIES")),
            max_upload_bytes=_megabytes(env.get("TESTBED_MAX_UPLOAD_MB"), default=50),
            contact_email=(env.get("TESTBED_CONTACT_EMAIL") or "").strip() or cls.contact_email,
            trusted_proxies=_networks(env.get("TESTBED_TRUSTED_PROXIES")),
            smtp_url=_smtp_url(env.get("TESTBED_SMTP_URL")),
            mail_from=_mail_from(env.get("TESTBED_MAIL_FROM")) or cls.mail_from,
            base_url=(env.get("TESTBED_BASE_URL") or "").strip().rstrip("/") or cls.base_url,
            notification_sweep_seconds=_seconds(
                env.get("TESTBED_NOTIFICATION_SWEEP_SECONDS"), default=300.0
            ),
            draw_at_start=_flag(env.get("TESTBED_DRAW_AT_START", "1")),
        )

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")


def _smtp_url(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in SMTP_SCHEMES:
        raise ValueError(
            "TESTBED_SMTP_URL must start with smtp://, smtp+starttls:// or smtps:// "
            "(for example smtp+starttls://user:password@mail.example.org:587)"
        )
    return value


def _mail_from(value: str | None) -> str:
    value = (value or "").strip()
    if value and ("\r" in value or "\n" in value or "@" not in value):
        raise ValueError(f"TESTBED_MAIL_FROM must be one email address, got {value!r}")
    return value


def _seconds(value: str | None, *, default: float) -> float:
    value = (value or "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise ValueError(f"expected a number of seconds from 0 to 86400, got {value!r}")
    return seconds


def _networks(value: str | None) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (CIDR); a typo is an error at start-up rather
    than a proxy silently not trusted (or an address silently trusted)."""
    networks = []
    for item in (value or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ValueError(
                f"TESTBED_TRUSTED_PROXIES must list IP addresses or networks such as 10.0.0.0/8, "
                f"separated by commas; {item.strip()!r} is neither"
            ) from None
    return tuple(networks)


def _megabytes(value: str | None, *, default: int) -> int:
    if not (value or "").strip():
        return default * 1024 * 1024
    try:
        megabytes = float(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(
            f"TESTBED_MAX_UPLOAD_MB must be a number of megabytes, got {value!r}"
        ) from None
    if megabytes <= 0:
        raise ValueError(f"TESTBED_MAX_UPLOAD_MB must be positive, got {value!r}")
    return int(megabytes * 1024 * 1024)


def _stored_secret(data_dir: Path) -> str:
    """A random key made once per data directory, so sessions survive restarts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
