"""Password hashing (argon2id through argon2-cffi) and the password rules."""

from __future__ import annotations

import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from testbed.settings import ROOT

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_password_hash() -> str:
    """A hash no password matches, made with the same parameters as real ones: checking a
    password against it for an unknown address costs what checking a real account costs, so
    the time of the answer does not tell whether an account exists."""
    return _hasher.hash(secrets.token_urlsafe(32))


@cache
def common_passwords() -> frozenset[str]:
    path = ROOT / "testbed" / "accounts" / "common_passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def password_problems(password: str, *, email: str = "") -> list[str]:
    """What is wrong with a new password, in words; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    # "Password2026!" is as guessable as "password": check the stem without the padding too.
    stem = re.sub(r"[\d\W_]+$", "", lowered)
    if lowered in common_passwords() or stem in common_passwords():
        problems.append("This password is on a list of commonly used passwords; choose another.")
    elif len(set(password)) < 5:
        problems.append("Use more different characters.")
    local_part = email.split("@")[0].lower()
    if local_part and len(local_part) >= 4 and local_part in lowered:
        problems.append("Do not build the password from your email address.")
    return problems
