"""Sections that other apps add to the case detail page.

Dependencies point one way (victims depends on casework, never the reverse), so the
victims app registers its section here from its AppConfig.ready() instead of casework
importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from casework.models import Case
from teams.disclosure import CaseAccess


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]


PanelBuilder = Callable[[Case, Any, CaseAccess], Panel]

_builders: list[PanelBuilder] = []


def register(builder: PanelBuilder) -> PanelBuilder:
    if builder not in _builders:
        _builders.append(builder)
    return builder


def panels_for(case: Case, user: Any, access: CaseAccess) -> list[Panel]:
    return [builder(case, user, access) for builder in _builders]
