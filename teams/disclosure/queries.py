"""The one way in: every read of protected rows is restricted here.

`restrict(queryset, user)` limits any queryset of a protected model to what the user may
read. It is one SQL statement: `pk IN (a UNION of branches)`, where the branches are the
rows of the teams on which the user's role groups hold the permission for the row's kind
and level, the rows of cases granted to the user directly (a guest, emergency access),
the user's own records, and the records naming the user. No OR across grant tables, no
per-row check in Python, no Python list of ids.

A model takes part by declaring `disclosure = Protected(...)` (see below). On a detail
page, `case_access(user, case)` loads the user's permissions for one case once and
`CaseAccess.can_see(record)` checks each record in memory with the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import Http404
from django.utils import timezone

from teams.disclosure.policy import LEVELED, Info, codename

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from teams.models import User

M = TypeVar("M", bound=models.Model)
AnyUser = Any  # a User or an AnonymousUser


@dataclass(frozen=True)
class Protected:
    """How a model's rows are reached and judged.

    case_path:     lookup from the model to its Case ("" for Case itself).
    codes:         for a kind with no per-record level: the permissions, any of which
                   lets a row be read.
    info_field, info_map, default_info, level_field:
                   for records whose kind follows from a field (note kind, decision
                   status) and which carry a disclosure level.
    author_field:  the author always reads their own records (while they see the case).
    named_grants:  related name of the per-record user grants of `restricted` records.
    """

    case_path: str
    codes: tuple[str, ...] = ()
    info_field: str | None = None
    info_map: dict[str, Info] = field(default_factory=dict)
    default_info: Info | None = None
    level_field: str | None = None
    author_field: str | None = None
    named_grants: str | None = None

    @property
    def team_lookup(self) -> str:
        return f"{self.case_path}__team_id" if self.case_path else "team_id"

    @property
    def case_lookup(self) -> str:
        return self.case_path or "pk"

    def info_of(self, obj: models.Model) -> Info:
        if self.info_field is None:
            if self.default_info is None:
                raise TypeError("This record's kind is constant; use `codes`.")
            return self.default_info
        value = getattr(obj, self.info_field)
        info = self.info_map.get(value, self.default_info)
        if info is None:
            raise ValueError(f"No kind of information for {self.info_field}={value!r}.")
        return info

    def code_of(self, obj: models.Model) -> str:
        """The permission that lets a role read this record (Python side)."""
        info = self.info_of(obj)
        level = getattr(obj, self.level_field) if self.level_field and info in LEVELED else None
        return codename(info, level)

    def code_expression(self) -> models.Expression:
        """The same permission computed by the database, for one-statement filtering."""
        if self.info_field is None:
            assert self.default_info is not None
            return self._expr(self.default_info)
        whens = []
        for value, info in self.info_map.items():
            whens.append(models.When(**{self.info_field: value}, then=self._expr(info)))
        default = self._expr(self.default_info) if self.default_info else Value("")
        return models.Case(*whens, default=default, output_field=models.CharField())

    def _expr(self, info: Info) -> Any:
        if info in LEVELED and self.level_field:
            return Concat(Value(f"view_{info.value}__"), F(self.level_field))
        return Value(codename(info))


# Extra branches other apps add for a model (victims: release recipients), keyed by label.
_extra_branches: dict[str, list[Callable[[AnyUser], QuerySet[Any]]]] = {}


def register_branch(label: str, branch: Callable[[AnyUser], QuerySet[Any]]) -> None:
    branches = _extra_branches.setdefault(label, [])
    if branch not in branches:
        branches.append(branch)


def may_read_cases(user: User | AnonymousUser) -> bool:
    # The system administrator manages accounts and teams but reads no case content,
    # whatever memberships the account may also carry (DESIGN rule 8).
    return bool(user.is_authenticated and user.is_active and not user.is_staff)


def team_ids_for(user: AnyUser, roles: tuple[str, ...] | None = None) -> QuerySet[Any]:
    """The teams where the user holds an active membership today, as a subquery."""
    membership = apps.get_model("teams", "Membership")
    if not (user.is_authenticated and user.is_active):
        return membership.objects.none().values("team_id")
    memberships = membership.objects.active().filter(user_id=user.pk)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.order_by().values("team_id")


def group_ids_for(user: AnyUser) -> QuerySet[Any]:
    """The role groups the user belongs to through a membership active today. Dates are
    checked here, in the query, so a membership that ends stops working at once."""
    membership = apps.get_model("teams", "Membership")
    team_role_group = apps.get_model("teams", "TeamRoleGroup")
    active = membership.objects.active().filter(
        user_id=user.pk, team_id=OuterRef("team_id"), role=OuterRef("role")
    )
    return team_role_group.objects.filter(Exists(active)).order_by().values("group_id")


def _team_grants(user: AnyUser) -> QuerySet[Any]:
    grants = apps.get_model("teams", "TeamGroupObjectPermission")
    return grants.objects.filter(group_id__in=group_ids_for(user)).order_by()


def _case_grants(user: AnyUser) -> QuerySet[Any]:
    """Direct grants on single cases; an expired one stops working at once, before any
    clean-up task has removed it."""
    grants = apps.get_model("casework", "CaseUserObjectPermission")
    return (
        grants.objects.filter(user_id=user.pk)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .order_by()
    )


def case_ids_with(user: AnyUser, code: str) -> QuerySet[Any]:
    """The cases on which the user holds one permission, as one subquery."""
    case = apps.get_model("casework", "Case")
    if not may_read_cases(user):
        return case.objects.none().values("pk")
    teams = _team_grants(user).filter(permission__codename=code).values("content_object_id")
    cases = _case_grants(user).filter(permission__codename=code).values("content_object_id")
    by_team = case.objects.order_by().filter(team_id__in=teams).values("pk")
    return by_team.union(case.objects.order_by().filter(pk__in=cases).values("pk"), all=True)


def visible_case_ids(user: AnyUser) -> QuerySet[Any]:
    """The cases whose summary the user may read, as one subquery."""
    case = apps.get_model("casework", "Case")
    if not may_read_cases(user):
        return case.objects.none().values("pk")
    spec: Protected = case.disclosure
    return case.objects.filter(pk__in=_branches(case, spec, user)).order_by().values("pk")


def _own_grants(spec: Protected, user: AnyUser) -> Q | None:
    """For a model that carries its own team (Case itself): the team grants as a
    condition on its own column, `team_id IN (teams granted)`, which PostgreSQL plans as
    a semi-join on the team index with a good estimate of the rows (a `pk IN (UNION)`
    on the same table is estimated at 200 rows whatever the user sees, and reads every
    visible row twice). Direct grants on single cases (guests, emergency access) are rare;
    when the user holds one, None: the caller uses the union of branches. This costs one
    small query (`EXISTS` on the user's case grants), so it is used by restrict() only,
    not inside subqueries (visible_case_ids)."""
    if _case_grants(user).filter(permission__codename__in=spec.codes).exists():
        return None
    teams = _team_grants(user).filter(permission__codename__in=spec.codes)
    return Q(**{f"{spec.team_lookup}__in": teams.values("content_object_id")})


def _branches(model: type[models.Model], spec: Protected, user: AnyUser) -> QuerySet[Any]:
    base = model._default_manager.order_by()
    team_grants = _team_grants(user)
    case_grants = _case_grants(user)
    if spec.codes:
        teams = team_grants.filter(permission__codename__in=spec.codes)
        cases = case_grants.filter(permission__codename__in=spec.codes)
        parts = [
            base.filter(**{f"{spec.team_lookup}__in": teams.values("content_object_id")}),
            base.filter(**{f"{spec.case_lookup}__in": cases.values("content_object_id")}),
        ]
    else:
        coded = base.annotate(_code=spec.code_expression())
        parts = [
            coded.filter(
                Exists(
                    team_grants.filter(
                        content_object_id=OuterRef(spec.team_lookup),
                        permission__codename=OuterRef("_code"),
                    )
                )
            ),
            coded.filter(
                Exists(
                    case_grants.filter(
                        content_object_id=OuterRef(spec.case_lookup),
                        permission__codename=OuterRef("_code"),
                    )
                )
            ),
        ]
    if spec.author_field or spec.named_grants:
        cases_seen = visible_case_ids(user)
        if spec.author_field:
            parts.append(
                base.filter(**{spec.author_field: user.pk, f"{spec.case_lookup}__in": cases_seen})
            )
        if spec.named_grants:
            parts.append(
                base.filter(
                    **{
                        f"{spec.named_grants}__user_id": user.pk,
                        f"{spec.case_lookup}__in": cases_seen,
                    }
                )
            )
    for branch in _extra_branches.get(model._meta.label, []):
        parts.append(base.filter(pk__in=branch(user)))
    values = [part.values("pk") for part in parts]
    return values[0].union(*values[1:], all=True)


def restrict(queryset: QuerySet[M], user: User | AnonymousUser) -> QuerySet[M]:
    """Limit `queryset` to the rows `user` may read. The only way to read protected rows."""
    model = queryset.model
    if model._meta.label == "teams.Team":
        if not (user.is_authenticated and user.is_active):
            return queryset.none()
        return queryset.filter(pk__in=team_ids_for(user))
    spec: Protected | None = getattr(model, "disclosure", None)
    if spec is None:
        raise TypeError(f"{model._meta.label} does not declare its disclosure.")
    if not may_read_cases(user):
        return queryset.none()
    if spec.codes and not spec.case_path:
        own = _own_grants(spec, user)
        if own is not None:
            return queryset.filter(own)
    return queryset.filter(pk__in=_branches(model, spec, user))


def get_visible_or_404(queryset: QuerySet[M], user: User | AnonymousUser, **lookup: Any) -> M:
    """Fetch one row the user may see; a hidden row answers exactly like a missing one,
    and the attempt on a row that exists is recorded in the audit trail as denied."""
    try:
        return restrict(queryset, user).get(**lookup)
    except ObjectDoesNotExist:
        record_if_hidden(queryset.model, user, **lookup)
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def case_or_404(
    queryset: QuerySet[Any], user: User | AnonymousUser, **lookup: Any
) -> tuple[Any, CaseAccess]:
    """One case and the user's permissions on it, for a case page: the case by its key,
    then case_access() (which the page needs anyway); a case whose summary the user may
    not read answers exactly like a missing one. The same grants as restrict(), read for
    this one case instead of for every case the user can see."""
    try:
        case = queryset.get(**lookup)
    except ObjectDoesNotExist:
        raise Http404("No case matches the given query.") from None
    access = case_access(user, case)
    if not access.has(codename(Info.CASE_SUMMARY)):
        from audit.services import record_denied

        record_denied(user, case, case_id=int(case.pk))
        raise Http404("No case matches the given query.")
    return case, access


def record_if_hidden(model: type[models.Model], user: Any, **lookup: Any) -> None:
    """After a 404: if the row exists, the policy hid it; the trail records that."""
    from audit.services import record_denied

    try:
        hidden = model._default_manager.filter(**lookup).first()
    except (ValueError, TypeError):
        return  # a malformed id: nothing was hidden
    if hidden is not None:
        record_denied(user, hidden, case_id=case_id_of(hidden))


def case_id_of(obj: models.Model) -> int | None:
    """The case a record belongs to, when it belongs to exactly one."""
    spec: Protected | None = getattr(type(obj), "disclosure", None)
    if spec is None:
        return None
    if spec.case_path == "":
        return int(obj.pk)
    value = getattr(obj, f"{spec.case_path}_id", None)
    return int(value) if value is not None else None


@dataclass(frozen=True)
class CaseAccess:
    """A user's permissions on one case, loaded once, to judge records in memory."""

    user_id: int | None
    case_id: int
    codes: frozenset[str]
    roles: frozenset[str]
    named: frozenset[tuple[str, int]]

    def has(self, code: str) -> bool:
        return code in self.codes

    def can_see(self, obj: models.Model) -> bool:
        spec: Protected = type(obj).disclosure  # type: ignore[attr-defined]
        if spec.author_field and getattr(obj, f"{spec.author_field}_id", None) == self.user_id:
            return self.has(codename(Info.CASE_SUMMARY))
        if (obj._meta.label, obj.pk) in self.named:
            return self.has(codename(Info.CASE_SUMMARY))
        if spec.codes:
            return any(code in self.codes for code in spec.codes)
        return spec.code_of(obj) in self.codes

    def filter(self, records: Any) -> list[Any]:
        return [record for record in records if self.can_see(record)]


NO_ACCESS_CODES: frozenset[str] = frozenset()


def case_access(user: AnyUser, case: models.Model) -> CaseAccess:
    """Two queries: the user's permission codenames on the case (team grants united with
    direct case grants), and the restricted records of the case that name the user."""
    if not may_read_cases(user):
        return CaseAccess(None, int(case.pk), NO_ACCESS_CODES, frozenset(), frozenset())
    team_id = case.team_id  # type: ignore[attr-defined]
    team_codes = _team_grants(user).filter(content_object_id=team_id).values("permission__codename")
    case_codes = _case_grants(user).filter(content_object_id=case.pk).values("permission__codename")
    codes = frozenset(row["permission__codename"] for row in team_codes.union(case_codes))
    membership = apps.get_model("teams", "Membership")
    roles = frozenset(
        membership.objects.active()
        .filter(user_id=user.pk, team_id=team_id)
        .values_list("role", flat=True)
    )
    return CaseAccess(int(user.pk), int(case.pk), codes, roles, _named_on_case(user, case))


def _named_on_case(user: AnyUser, case: models.Model) -> frozenset[tuple[str, int]]:
    parts = []
    for model in apps.get_models():
        spec = getattr(model, "disclosure", None)
        if isinstance(spec, Protected) and spec.named_grants:
            grants = model._meta.get_field(spec.named_grants).related_model
            parts.append(
                grants._default_manager.filter(  # type: ignore[union-attr]
                    user_id=user.pk, **{f"content_object__{spec.case_path}": case.pk}
                )
                .order_by()
                .annotate(label=Value(model._meta.label))
                .values_list("label", "content_object_id")
            )
    if not parts:
        return frozenset()
    return frozenset((label, int(pk)) for label, pk in parts[0].union(*parts[1:], all=True))


@dataclass(frozen=True)
class Audience:
    """Who can see one record, computed by the same policy that enforces it."""

    roles: list[str]
    members: list[Any]
    named: list[Any]
    guests: list[Any]
    author: Any | None


def audience(obj: models.Model) -> Audience:
    """The roles, and the people now holding them on the case's team, who can see `obj`;
    plus its named members, case guests and its author. Four small queries."""
    from teams.disclosure.policy import role_codenames
    from teams.roles import Role

    spec: Protected = type(obj).disclosure  # type: ignore[attr-defined]
    codes = set(spec.codes) if spec.codes else {spec.code_of(obj)}
    case: Any = obj if not spec.case_path else getattr(obj, spec.case_path)
    roles = [role for role in Role if codes & role_codenames(role)]
    membership = apps.get_model("teams", "Membership")
    members = [
        m.user
        for m in membership.objects.active()
        .filter(team_id=case.team_id, role__in=roles, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__last_name", "user__username")
    ]
    guests = [
        grant.user
        for grant in _case_grants_on(case)
        .filter(permission__codename__in=codes)
        .select_related("user")
        .distinct()
    ]
    named: list[Any] = []
    if spec.named_grants:
        grants: Any = obj._meta.get_field(spec.named_grants).related_model
        named = [
            grant.user
            for grant in grants._default_manager.filter(content_object=obj).select_related("user")
        ]
    author = getattr(obj, spec.author_field) if spec.author_field else None
    return Audience(
        roles=[Role(role).label for role in roles],
        members=list(dict.fromkeys(members)),
        named=named,
        guests=list(dict.fromkeys(guests)),
        author=author,
    )


def _case_grants_on(case: models.Model) -> QuerySet[Any]:
    grants = apps.get_model("casework", "CaseUserObjectPermission")
    return grants.objects.filter(content_object_id=case.pk).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def writable_levels(access: CaseAccess, info: Info) -> list[str]:
    """The disclosure levels this user may give a record of `info` on this case: the
    policy's choice for the roles they hold there, if the role may write the kind."""
    from teams.disclosure.policy import choosable_levels, write_codename

    if write_codename(info) not in access.codes:
        return []
    return choosable_levels(info, access.roles)
