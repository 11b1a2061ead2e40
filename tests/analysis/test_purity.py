"""analysis/ must stay a pure library: no web framework, ORM or template engine."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("testbed", "litestar", "piccolo", "jinja2")
MODULES = sorted(path.stem for path in (ROOT / "analysis").glob("*.py") if path.stem != "__init__")


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((ROOT / "analysis").glob("*.py")), ids=lambda p: p.name)
def test_source_imports_nothing_forbidden(path: Path) -> None:
    assert _imported_roots(path).isdisjoint(FORBIDDEN)


def test_importing_every_module_loads_nothing_forbidden() -> None:
    imports = "; ".join(f"import analysis.{name}" for name in MODULES)
    probe = (
        f"{imports}; import sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    # The probe is built from this file's own constants, not from outside input.
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_every_designed_module_exists() -> None:
    designed = {
        "effect_sizes", "wwc", "comparisons", "regression", "multiplicity",
        "power", "meta", "bayes", "evidence", "randomization",
    }  # fmt: skip
    assert designed <= set(MODULES)
