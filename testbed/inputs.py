"""One reader for raw input from forms (text, lists of checkbox values) and from the API (JSON
values), collecting every problem by field.

A share typed in a form is a percentage ("45" or "45 %"); a share sent as a JSON number is a
fraction (0.45), which is also how shares are stored and returned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from testbed.errors import Conflict, InvalidInput

FIX_MESSAGE = "Some of what you entered needs fixing."


class InputReader:
    """Reads raw values (form text or JSON values) field by field and collects every problem,
    so a form shows all of them at once."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.errors: list[dict[str, str]] = []

    def problem(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})

    def raise_problems(
        self,
        error_type: type[InvalidInput] | type[Conflict] = InvalidInput,
        message: str = FIX_MESSAGE,
    ) -> None:
        """Raise every problem found so far at once (nothing when there is none)."""
        if self.errors:
            raise error_type(message, errors=self.errors)

    def _raw(self, name: str) -> Any:
        value = self.values.get(name)
        return value.strip() if isinstance(value, str) else value

    def text(self, name: str, label: str, *, required: bool = True, max_length: int = 200) -> str:
        value = self._raw(name)
        if value is None or value == "":
            if required:
                self.problem(name, f"Enter {label}.")
            return ""
        if not isinstance(value, str):
            self.problem(name, f"Enter {label} as text.")
            return ""
        if len(value) > max_length:
            self.problem(name, f"Keep {label} to {max_length:,} characters.")
        return value

    def number(
        self, name: str, label: str, *, minimum: float, maximum: float, whole: bool = False
    ) -> Any:
        value = self._raw(name)
        kind = "a whole number" if whole else "a number"
        if value is None or value == "":
            self.problem(name, f"Enter {label}.")
            return None
        parsed = _as_number(value.replace(",", "") if isinstance(value, str) else value)
        if parsed is None or (whole and parsed != int(parsed)):
            self.problem(name, f"Enter {label} as {kind}.")
            return None
        if not minimum <= parsed <= maximum:
            self.problem(name, f"Enter {label} from {minimum:,g} to {maximum:,g}.")
            return None
        return int(parsed) if whole else parsed

    def share(self, name: str, label: str) -> float | None:
        value = self._raw(name)
        if value is None or value == "":
            self.problem(name, f"Enter {label}.")
            return None
        if isinstance(value, str):
            percent = _as_number(value.removesuffix("%").strip())
            if percent is None or not 0 <= percent <= 100:
                self.problem(name, f"Enter {label} as a percentage from 0 to 100, e.g. 45.")
                return None
            return round(percent / 100, 4)
        fraction = _as_number(value)
        if fraction is None or not 0 <= fraction <= 1:
            self.problem(name, f"Give {label} as a fraction from 0 to 1.")
            return None
        return fraction

    def choice(self, name: str, label: str, options: Iterable[Any], *, required: bool = True):
        value = self._raw(name)
        if value is None or value == "":
            if required:
                self.problem(name, f"Choose {label}.")
            return None
        by_text = {str(option): option for option in options}
        if str(value) not in by_text:
            self.problem(name, f"Choose {label} from the list.")
            return None
        return by_text[str(value)]

    def codes(self, name: str, label: str, options: Iterable[Any], *, at_least_one: bool = True):
        value = self.values.get(name)
        raw = [] if value in (None, "") else [value] if isinstance(value, str | int) else value
        if not isinstance(raw, list | tuple):
            self.problem(name, f"Give {label} as a list.")
            return []
        options = list(options)
        by_text = {str(option): option for option in options}
        unknown = [str(item) for item in raw if str(item) not in by_text]
        if unknown:
            self.problem(name, f"Unknown {label}: {', '.join(unknown)}.")
        chosen = {by_text[str(item)] for item in raw if str(item) in by_text}
        if at_least_one and not chosen and not unknown:
            self.problem(name, f"Choose at least one of the {label}.")
        return [option for option in options if option in chosen]

    def flag(self, name: str) -> bool:
        value = self._raw(name)
        if isinstance(value, str):
            return value.lower() in {"on", "1", "true", "yes"}
        return bool(value)

    def iso_date(self, name: str) -> date | None:
        """A date typed as YYYY-MM-DD; None when left empty."""
        value = self._raw(name)
        if value is None or value == "":
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(name, "Enter a date as YYYY-MM-DD.")
            return None

    def url(self, name: str, label: str, *, required: bool = False) -> str:
        value = self.text(name, label, required=required, max_length=300)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.problem(name, f"Enter {label} as a web address starting with https://.")
        return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
