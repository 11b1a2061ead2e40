"""Input checks shared by the analysis modules.

Every check raises ValueError with a sentence that names the argument and says
what is wrong with it, so a page can show the message as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np


def finite_number(name: str, value: object) -> float:
    """Return value as a float, refusing booleans, text, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def positive_number(name: str, value: object) -> float:
    number = finite_number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    return number


def non_negative_number(name: str, value: object) -> float:
    number = finite_number(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def count(name: str, value: object, minimum: int = 0) -> int:
    """A whole number of students, clusters or events, at least `minimum`."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    is_whole_float = (
        isinstance(value, Real) and math.isfinite(float(value)) and float(value).is_integer()
    )
    if not (isinstance(value, Integral) or is_whole_float):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    whole = int(value)
    if whole < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    if whole < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {whole}")
    return whole


def probability(name: str, value: object) -> float:
    """A proportion in [0, 1]."""
    number = finite_number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {value!r}")
    return number


def open_probability(name: str, value: object, purpose: str) -> float:
    """A proportion strictly between 0 and 1 (where `purpose` needs it)."""
    number = probability(name, value)
    if number in (0.0, 1.0):
        raise ValueError(
            f"{name} is exactly {number:g}: {purpose} is undefined when every or no "
            "student has the outcome"
        )
    return number


def level(name: str, value: object) -> float:
    """A confidence level or power strictly between 0 and 1."""
    number = finite_number(name, value)
    if not 0.0 < number < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return number


def numeric_array(name: str, values: object, minimum_size: int = 1) -> np.ndarray:
    """A one-dimensional float array of finite values with at least `minimum_size` items."""
    if isinstance(values, str | bytes):
        raise ValueError(f"{name} must be a sequence of numbers, not text")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must contain only numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional list of numbers")
    if array.size < minimum_size:
        raise ValueError(f"{name} has {array.size} value(s); at least {minimum_size} are needed")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"{name} contains {bad} missing or infinite value(s); remove or impute them first"
        )
    return array


def same_length(names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    lengths = [len(array) for array in arrays]
    if len(set(lengths)) > 1:
        described = ", ".join(f"{n} has {k}" for n, k in zip(names, lengths, strict=True))
        raise ValueError(f"these must have the same length: {described}")


def choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return str(value)
