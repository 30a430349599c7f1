"""Sign-in, failed sign-in and sign-out go to the audit trail; teams and memberships keep
their permission groups in step with the disclosure policy."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from audit.middleware import bind_user
from audit.models import Action, Outcome
from audit.services import record
from audit.signals import chain_broken
from teams.disclosure.grants import apply_team_policy, sync_membership_groups

# Django's own receiver stamps last_login; it is re-connected below, after naming the
# user for this request, so the trail's record of that write says who signed in.
user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    bind_user(user)
    update_last_login(sender, user)
    record(user, Action.LOGIN, target=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, Action.LOGOUT, target=user)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any, **kwargs: Any) -> None:
    # Only the username is kept: credentials also carry the password attempt.
    record(
        None,
        Action.LOGIN_FAILED,
        outcome=Outcome.FAILED,
        username=str(credentials.get("username", "")),
    )


@receiver(post_save, sender="teams.Team")
def _team_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        apply_team_policy(instance)


@receiver(post_save, sender="teams.Membership")
def _membership_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    sync_membership_groups(instance.user, instance.team, instance.role)
    record(
        None,
        Action.MEMBERSHIP_CHANGE,
        target=instance,
        detail={
            "change": "added" if created else "changed",
            "user": instance.user_id,
            "team": instance.team_id,
            "role": instance.role,
            "active_from": str(instance.active_from),
            "active_to": str(instance.active_to) if instance.active_to else None,
        },
    )


@receiver(post_delete, sender="teams.Membership")
def _membership_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    sync_membership_groups(instance.user, instance.team, instance.role)
    record(
        None,
        Action.MEMBERSHIP_CHANGE,
        target=instance,
        detail={"change": "deleted", "user": instance.user_id, "team": instance.team_id},
    )


PERMISSION_CHANGES = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}


def _permission_change(instance: Any, field: str, action: str, pk_set: Any) -> None:
    if action not in PERMISSION_CHANGES:
        return
    record(
        None,
        Action.PERMISSION_CHANGE,
        target=instance,
        detail={
            "field": field,
            "change": PERMISSION_CHANGES[action],
            "ids": sorted(pk_set or ()),
        },
    )


@receiver(m2m_changed, sender="teams.User_groups")
def _user_groups_changed(sender: Any, instance: Any, action: str, pk_set: Any, **kw: Any) -> None:
    _permission_change(instance, "groups", action, pk_set)


@receiver(m2m_changed, sender="teams.User_user_permissions")
def _user_permissions_changed(
    sender: Any, instance: Any, action: str, pk_set: Any, **kw: Any
) -> None:
    _permission_change(instance, "user_permissions", action, pk_set)


@receiver(m2m_changed, sender="auth.Group_permissions")
def _group_permissions_changed(
    sender: Any, instance: Any, action: str, pk_set: Any, **kw: Any
) -> None:
    _permission_change(instance, "permissions", action, pk_set)


def apply_policy_to_all_teams(sender: Any, **kwargs: Any) -> None:
    """After migrate: a change to the policy table reaches every team's groups."""
    from teams.models import Team

    for team in Team.objects.all().iterator():
        apply_team_policy(team)


@receiver(chain_broken)
def _alert_on_broken_chain(sender: Any, verdict: Any, **kwargs: Any) -> None:
    """E-mail every administrator and supervisor. No case content: only where the chain
    broke and what to run."""
    from django.core.mail import send_mail

    from teams.models import Membership, User

    supervisors = Membership.objects.active().filter(role="supervisor").values("user_id")
    recipients = sorted(
        set(
            User.objects.filter(is_active=True)
            .filter(Q(is_staff=True) | Q(pk__in=supervisors))
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if recipients:
        send_mail(
            "Audit trail failed verification",
            f"The nightly check of the audit trail found a problem at event "
            f"#{verdict.first_bad_seq}: {verdict.problem}\n\n"
            "Run `manage.py verify_audit` and contact your security officer.",
            None,
            recipients,
        )
