"""Keeps django-guardian's permission rows in step with the policy.

Rows grow with teams and exceptions, not with cases or notes:
- on each team, one group per role holds that role's baseline (policy.role_codenames);
- a membership puts the user in the group (its dates are also checked in every query);
- per case, only exceptions (a guest invited for one case, emergency access);
- per record, only a restricted record's named members and a release's recipient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from audit.models import Action
from audit.services import record
from teams.disclosure.policy import role_codenames, role_read_codenames
from teams.roles import Role


def _permissions(model: type[models.Model], codenames: Iterable[str]) -> dict[str, Permission]:
    content_type = ContentType.objects.get_for_model(model)
    return {
        perm.codename: perm
        for perm in Permission.objects.filter(content_type=content_type, codename__in=codenames)
    }


@transaction.atomic
def apply_team_policy(team: Any) -> int:
    """Create the team's role groups and give each exactly its role's permissions on the
    team. Idempotent; returns the number of permission rows added or removed."""
    from teams.models import TeamGroupObjectPermission, TeamRoleGroup

    changed = 0
    wanted_by_role = {role: role_codenames(role) for role in Role}
    perms = _permissions(type(team), set().union(*wanted_by_role.values()))
    missing = set().union(*wanted_by_role.values()) - set(perms)
    if missing:
        # The permissions come from the policy table through Team.Meta; a missing one
        # means migrations have not been run after the table changed.
        raise RuntimeError(f"Permissions missing; run migrate: {sorted(missing)}")
    for role, wanted in wanted_by_role.items():
        role_group = TeamRoleGroup.objects.filter(team=team, role=role).select_related("group")
        found = role_group.first()
        if found is None:
            group = Group.objects.create(name=f"team-{team.pk}-{role}")
            found = TeamRoleGroup.objects.create(team=team, role=role, group=group)
        have = dict(
            TeamGroupObjectPermission.objects.filter(
                group=found.group, content_object=team
            ).values_list("permission__codename", "pk")
        )
        add = [
            TeamGroupObjectPermission(group=found.group, content_object=team, permission=perms[c])
            for c in sorted(wanted - set(have))
        ]
        TeamGroupObjectPermission.objects.bulk_create(add)
        extra = [pk for code, pk in have.items() if code not in wanted]
        TeamGroupObjectPermission.objects.filter(pk__in=extra).delete()
        changed += len(add) + len(extra)
    return changed


def sync_membership_groups(user: Any, team: Any, role: str) -> None:
    """Put the user in the team's role group while a membership for it is active today,
    and take them out otherwise."""
    from teams.models import Membership, TeamRoleGroup

    role_group = TeamRoleGroup.objects.filter(team=team, role=role).select_related("group").first()
    if role_group is None:
        apply_team_policy(team)
        role_group = TeamRoleGroup.objects.select_related("group").get(team=team, role=role)
    active = Membership.objects.active().filter(user=user, team=team, role=role).exists()
    if active:
        user.groups.add(role_group.group)
    else:
        user.groups.remove(role_group.group)


def grant_case_access(
    user: Any,
    case: Any,
    role: Role,
    *,
    granted_by: Any,
    reason: str,
    expires_at: dt.datetime | None = None,
) -> int:
    """An exception on one case: the user reads it as `role` would (a guest from another
    team invited for this case, or emergency access), until `expires_at` if given.
    Reads only: writing on a case takes a membership of its team."""
    from casework.models import CaseUserObjectPermission

    # Case carries the same policy codenames as Team (Case.Meta.permissions), so an
    # exception holds what the role reads on a team; never its writes.
    case_perms = _permissions(type(case), role_read_codenames(role))
    with transaction.atomic():
        CaseUserObjectPermission.objects.filter(user=user, content_object=case).delete()
        rows = [
            CaseUserObjectPermission(
                user=user,
                content_object=case,
                permission=perm,
                expires_at=expires_at,
                reason=reason,
                granted_by=granted_by,
            )
            for perm in case_perms.values()
        ]
        CaseUserObjectPermission.objects.bulk_create(rows)
        record(
            granted_by,
            Action.PERMISSION_CHANGE,
            target=case,
            case_id=case.pk,
            detail={
                "grant": "case_access",
                "user": user.pk,
                "role": str(role),
                "expires_at": expires_at.isoformat() if expires_at else None,
                "reason": reason,
            },
        )
    return len(rows)


def revoke_case_access(user: Any, case: Any, *, revoked_by: Any) -> int:
    from casework.models import CaseUserObjectPermission

    deleted, _ = CaseUserObjectPermission.objects.filter(user=user, content_object=case).delete()
    if deleted:
        record(
            revoked_by,
            Action.PERMISSION_CHANGE,
            target=case,
            case_id=case.pk,
            detail={"revoke": "case_access", "user": user.pk},
        )
    return deleted


def set_named_members(obj: models.Model, users: Iterable[Any], *, changed_by: Any) -> None:
    """Name who may read a restricted record (besides its author)."""
    grants_model = _named_grants_model(obj)
    perm = Permission.objects.get(
        content_type=ContentType.objects.get_for_model(type(obj)),
        codename=f"view_{obj._meta.model_name}",
    )
    wanted = {user.pk for user in users}
    with transaction.atomic():
        have = set(
            grants_model.objects.filter(content_object=obj).values_list("user_id", flat=True)
        )
        grants_model.objects.filter(content_object=obj, user_id__in=have - wanted).delete()
        grants_model.objects.bulk_create(
            [
                grants_model(user_id=pk, content_object=obj, permission=perm)
                for pk in sorted(wanted - have)
            ]
        )
        if have != wanted:
            record(
                changed_by,
                Action.PERMISSION_CHANGE,
                target=obj,
                case_id=getattr(obj, "case_id", None),
                detail={"named_members": sorted(wanted), "previous": sorted(have)},
            )


def named_members(obj: models.Model) -> list[int]:
    return list(
        _named_grants_model(obj)
        .objects.filter(content_object=obj)
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def _named_grants_model(obj: models.Model) -> Any:
    spec = getattr(type(obj), "disclosure", None)
    if spec is None or not spec.named_grants:
        raise TypeError(f"{obj._meta.label} has no named members.")
    return obj._meta.get_field(spec.named_grants).related_model


def expire_case_grants(now: dt.datetime | None = None) -> int:
    """Housekeeping: expired grants already stopped working in the query itself."""
    from casework.models import CaseUserObjectPermission

    deleted, _ = CaseUserObjectPermission.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted
