"""Template set-up shared by every page: the Jinja environment, its filters and globals."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig
from markupsafe import Markup

from testbed import vocabulary
from testbed.auth import current_principal
from testbed.errors import InvalidInput, TestbedError
from testbed.info.glossary import GLOSSARY
from testbed.settings import ROOT


def thousands(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}"


def when(moment: datetime | None) -> str:
    """Every time a page shows, in one format: "2026-12-07 14:05 UTC" (dates alone are ISO)."""
    if moment is None:
        return "–"
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.{digits}f} %"


def term(slug: str, text: str) -> Markup:
    """A technical word linked to its plain explanation on /glossary (no JavaScript needed)."""
    if slug not in GLOSSARY_SLUGS:
        raise KeyError(f"no glossary entry {slug!r}")  # a broken link is a bug, caught in tests
    return Markup('<a class="term" href="/glossary#{}">{}</a>').format(slug, text)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(ROOT / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["thousands"] = thousands
    environment.filters["percent"] = percent
    environment.filters["when"] = when
    environment.globals["vocabulary"] = vocabulary
    environment.globals["term"] = term
    environment.globals["principal_of"] = current_principal
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


GLOSSARY_SLUGS = frozenset(entry.slug for entry in GLOSSARY)
SECRET_FIELDS = frozenset({"password", "_csrf_token"})


def client_address(request: Request) -> str:
    """The client's address for sign-in limits and the audit log (app.py trusts X-Forwarded-For
    only from configured proxies)."""
    return request.client.host if request.client else ""


def require_confirmation(data: Mapping[str, Any], what: str) -> None:
    """Forms whose action cannot be undone carry a required checkbox (`confirm` in _forms);
    a post without it (an old page, a script) is refused rather than acted on."""
    if data.get("confirm") != "yes":
        message = f"Tick the box to confirm that you want to {what}: it cannot be undone."
        raise InvalidInput(message, errors=[{"field": "confirm", "message": message}])


# Errors that say the form's page is not this person's to see or act on (signed out, not
# allowed, no such object): they answer as an error page, never as the form again.
NOT_THE_FORMS_TO_SHOW = frozenset({401, 403, 404})


@dataclass
class FormOutcome:
    error: TestbedError | None = None


@contextmanager
def form_errors() -> Iterator[FormOutcome]:
    """The one way a page handles what its form asks for. Every error the person can act on in
    the form (bad input 422, a conflict 409, too many tries 429, something gone 410) is kept in
    the outcome so the handler shows the form again with it, under the error's status code;
    401, 403 and 404 raise and answer as an error page:

        with form_errors() as outcome:
            await services.save(principal, values)
        if outcome.error:
            return form_page("x.html.j2", values=values, error=outcome.error)
        return Redirect(...)
    """
    outcome = FormOutcome()
    try:
        yield outcome
    except TestbedError as error:
        if error.status_code in NOT_THE_FORMS_TO_SHOW:
            raise
        outcome.error = error


def form_page(
    template: str,
    *,
    values: dict[str, Any],
    error: TestbedError | None = None,
    status_code: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Template:
    """A page with a form: what the user typed (never a password), and each error next to its
    field, with the ones that belong to no field listed at the top. Shown with an error, it
    answers with the error's status code unless told otherwise."""
    if status_code is None:
        status_code = error.status_code if error else 200
    field_errors: dict[str, str] = {}
    messages: list[str] = []
    for item in error.errors if error else []:
        if isinstance(item, dict) and item.get("field"):
            field_errors[item["field"]] = item.get("message", "Check this field.")
        else:
            messages.append(str(item.get("message", item)) if isinstance(item, dict) else str(item))
    # The summary at the top lists every problem; a field's links to the field, where the same
    # words stand again (the GOV.UK error summary pattern).
    summary: list[str | dict[str, str]] = [
        *messages,
        *({"field": name, "text": text} for name, text in field_errors.items()),
    ]
    context = {
        "values": {k: v for k, v in values.items() if k not in SECRET_FIELDS},
        "field_errors": field_errors,
        "error": error.detail if error else None,
        "messages": summary,
        **(extra or {}),
    }
    return Template(template, context=context, status_code=status_code)
