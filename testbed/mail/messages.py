"""Building mail: subject and both parts from the templates in templates/mail/.

Each kind of mail has `<kind>.subject.j2`, `<kind>.txt.j2` and `<kind>.html.j2`. The text part
is rendered without autoescaping (it is plain text); the HTML part autoescapes as every page
does. Links are absolute, built from TESTBED_BASE_URL: a request's Host header is whatever the
sender of the request chose, so it never goes into a mail. No images, no tracking.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from testbed.settings import ROOT

MAIL_TEMPLATES = ROOT / "templates" / "mail"


@cache
def _environment(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(MAIL_TEMPLATES),
        # The text part is plain text, never shown as HTML: escaping would garble it.
        autoescape=autoescape,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def single_line(value: str) -> str:
    """A header value from something a person typed (a name, an organization's name): line
    breaks would start a new header, so they and other control characters become spaces."""
    return " ".join("".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).split())


def render(kind: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) of a mail of this kind."""
    subject = _environment(False).get_template(f"{kind}.subject.j2").render(context)
    text = _environment(False).get_template(f"{kind}.txt.j2").render(context)
    html = _environment(True).get_template(f"{kind}.html.j2").render(context)
    return single_line(subject), text, html


def new_message_id(mail_from: str) -> str:
    domain = mail_from.rpartition("@")[2] or "testbed.invalid"
    return make_msgid(domain=domain)


class _UnfoldedHeader(str):
    """A header the generator writes as it is, on one line: the email package folds a long
    value without spaces (a List-Unsubscribe URL) into RFC 2047 encoded words, which no mail
    program reads as a URL. EmailMessage stores a value with a matching `name` untouched."""

    name: str

    def __new__(cls, name: str, value: str) -> _UnfoldedHeader:
        if len(value.splitlines()) > 1 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError(f"{name} may not contain line breaks or control characters")
        if len(name) + len(value) + 2 > 998:  # RFC 5322's longest line
            raise ValueError(f"{name} is too long for one line")
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def build(
    *,
    mail_from: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    message_id: str,
    list_unsubscribe: str = "",
) -> EmailMessage:
    """The message to send. EmailMessage refuses a header value with a line break (ValueError),
    so even a value that escaped `single_line` cannot smuggle in a header. A notification mail
    carries one-click unsubscribe (RFC 8058): mail programs show an unsubscribe button that
    POSTs `List-Unsubscribe=One-Click` to the address."""
    message = EmailMessage()
    message["From"] = Address(addr_spec=mail_from) if "<" not in mail_from else mail_from
    message["To"] = Address(addr_spec=to_address)
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    if list_unsubscribe:
        message["List-Unsubscribe"] = _UnfoldedHeader("List-Unsubscribe", f"<{list_unsubscribe}>")
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body_text)
    message.add_alternative(body_html, subtype="html")
    return message
