"""Template set-up shared by every page: the Jinja environment, its filters and globals."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from testbed.auth import current_principal
from testbed.settings import ROOT

PILLARS = {
    1: "Advancing educational equity",
    2: "Transforming teaching and learning",
    3: "Leveraging edtech for impact",
    4: "Promoting leadership and systemic change",
    5: "Collaborative research and development",
}


def thousands(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}"


def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.{digits}f} %"


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
    environment.globals["PILLARS"] = PILLARS
    environment.globals["principal_of"] = current_principal
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))
