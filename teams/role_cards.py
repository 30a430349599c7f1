"""Role cards: for each team role, what it does on the team and what it may see and
disclose. What it may see and disclose is generated from the disclosure policy's table
(teams.disclosure.policy), read when the card is built, so the card says exactly what
the app enforces and cannot drift from it; only the short description of the work is
written by hand (teams.roles.ROLE_DESCRIPTIONS)."""

from __future__ import annotations

from dataclasses import dataclass

from teams.disclosure import policy
from teams.disclosure.policy import Access, DisclosureLevel, Info
from teams.roles import ROLE_DESCRIPTIONS, Role


@dataclass(frozen=True)
class Level:
    value: str
    label: str
    default: bool = False


@dataclass(frozen=True)
class Sees:
    """One kind of information and what the role may do with it."""

    information: str
    label: str
    access: str
    access_label: str
    # For access by level: the levels whose audience includes the role.
    levels: tuple[Level, ...] = ()


@dataclass(frozen=True)
class Shares:
    """One kind of information the role writes, and who it may share each record with."""

    information: str
    label: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class RoleCard:
    role: str
    label: str
    description: str
    sees: tuple[Sees, ...]
    shares: tuple[Shares, ...]

    @property
    def slug(self) -> str:
        return self.role


def _level(value: str, default: str | None = None) -> Level:
    return Level(value, str(DisclosureLevel(value).label), value == default)


def _sees(role: Role, info: Info) -> Sees:
    access = policy.MATRIX[info].get(role, Access.NONE)
    levels: tuple[Level, ...] = ()
    if access is Access.BY_LEVEL:
        # The same question restrict() asks: which levels' permissions the role holds.
        levels = tuple(
            _level(value)
            for value in DisclosureLevel.values
            if role in policy.roles_that_can_read(info, value)
        )
    return Sees(
        information=info.value,
        label=policy.INFO_LABELS[info],
        access=access.value,
        access_label=policy.ACCESS_LABELS[access],
        levels=levels,
    )


def _shares(role: Role) -> tuple[Shares, ...]:
    rows = []
    for info in Info:
        choices = policy.CHOOSABLE.get((info, role))
        if not choices:
            continue
        default = policy.DEFAULT_LEVEL.get(info)
        rows.append(
            Shares(
                information=info.value,
                label=policy.INFO_LABELS[info],
                levels=tuple(_level(value, default) for value in choices),
            )
        )
    return tuple(rows)


def card(role: Role | str) -> RoleCard:
    role = Role(role)
    return RoleCard(
        role=role.value,
        label=str(role.label),
        description=ROLE_DESCRIPTIONS.get(role, ""),
        sees=tuple(_sees(role, info) for info in Info if info in policy.MATRIX),
        shares=_shares(role),
    )


def all_cards() -> list[RoleCard]:
    return [card(role) for role in Role]
