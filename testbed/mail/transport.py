"""Where a built message goes: an SMTP server (TESTBED_SMTP_URL) or, unset, a .eml file in
DATA_DIR/outbox that a developer opens and network admins see on /admin/outbox."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from testbed.settings import Settings

SMTP_TIMEOUT_SECONDS = 30


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx answer): retrying cannot help."""


async def deliver(settings: Settings, message: EmailMessage, *, file_name: str) -> str:
    """Send the message; returns how ("smtp" or "file"). Raises on failure: PermanentFailure
    when the server refused it for good, anything else when a later attempt may succeed."""
    if settings.smtp_url is None:
        write_eml(settings.outbox_dir, file_name, message)
        return "file"
    await send_smtp(settings.smtp_url, message)
    return "smtp"


def write_eml(directory: Path, file_name: str, message: EmailMessage) -> Path:
    """Written whole or not at all: to a temporary name, then renamed."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    partial = directory / f".{file_name}.partial"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, path)
    return path


async def send_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    starttls = parts.scheme == "smtp+starttls"
    port = parts.port or (465 if implicit_tls else 587 if starttls else 25)
    try:
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=starttls,
            timeout=SMTP_TIMEOUT_SECONDS,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [refused.code for refused in error.recipients]
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentFailure(str(error)) from error
        raise
    except aiosmtplib.SMTPDataError as error:
        # Only the message itself refused is final; a refused login or sender is a setting
        # to fix, after which the retries go through.
        if 500 <= error.code < 600:
            raise PermanentFailure(f"{error.code} {error.message}") from error
        raise
