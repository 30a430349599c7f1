"""Reads of victim information, every one through the disclosure policy.

Identity and locating information are judged field by field: the victim representatives
of a case see everything; officers and supervisors see identity, and locating fields
only under an active release naming them; treatment and polygraph see the pseudonym.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import Action
from audit.services import record
from casework.models import Case
from casework.panels import Panel
from teams.disclosure import CaseAccess, case_access, restrict, writable_levels
from teams.disclosure.policy import (
    RELEASE_FIELDS,
    Info,
    ReleaseCategory,
    codename,
    role_codenames,
    write_codename,
)
from teams.disclosure.queries import case_ids_with, team_ids_for, visible_case_ids
from teams.roles import Role
from victims.models import (
    CaseVictim,
    ProtectiveOrder,
    Release,
    ReleaseItem,
    Victim,
    VictimInput,
    VictimLocation,
    VictimUserObjectPermission,
)

ALL_LOCATING_FIELDS: frozenset[str] = frozenset(
    field for fields in RELEASE_FIELDS.values() for field in fields
)
LOCATING_LABELS = {
    field.name: str(field.verbose_name).capitalize() for field in VictimLocation._meta.fields
}
LOCATING_FIELD_ORDER = [field for fields in RELEASE_FIELDS.values() for field in fields]
IDENTITY = codename(Info.VICTIM_IDENTITY)
LOCATING = codename(Info.VICTIM_LOCATING)


def victims_for(user: Any) -> QuerySet[Victim]:
    return restrict(Victim.objects.all(), user)


def locations_for(user: Any) -> QuerySet[VictimLocation]:
    return restrict(VictimLocation.objects.all(), user)


def victim_links_for(user: Any) -> QuerySet[CaseVictim]:
    return restrict(CaseVictim.objects.all(), user).select_related("victim", "representative")


def victim_inputs_for(user: Any) -> QuerySet[VictimInput]:
    return restrict(VictimInput.objects.all(), user).select_related("author", "acknowledged_by")


def releases_for(user: Any) -> QuerySet[Release]:
    return (
        restrict(Release.objects.all(), user)
        .select_related("victim", "recipient", "case", "created_by", "revoked_by")
        .prefetch_related("items")
    )


def release_locating_branch(user: Any) -> QuerySet[Any]:
    """VictimLocation rows opened to the user by an active release (registered with the
    policy as an extra branch of restrict()). Both the guardian grant and the release's
    own dates must hold, so revocation and expiry work on the next request."""
    return (
        VictimLocation.objects.order_by()
        .filter(
            victim_id__in=Release.objects.active()
            .filter(recipient_id=user.pk, case_id__in=visible_case_ids(user))
            .filter(items__category__in=list(RELEASE_FIELDS))
            .values("victim_id"),
        )
        .filter(
            victim_id__in=VictimUserObjectPermission.objects.filter(
                user_id=user.pk, permission__codename__startswith="view_released_"
            ).values("content_object_id")
        )
        .values("pk")
    )


def released_categories(user: Any, victim_ids: Iterable[int]) -> dict[int, set[str]]:
    """Per victim, the categories an active release opens to the user (two queries)."""
    return {
        victim_id: set(by_category)
        for victim_id, by_category in active_releases(user, victim_ids).items()
    }


def active_releases(user: Any, victim_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per victim, each category an active release opens to the user, with the release
    that opens it (two queries)."""
    ids = list(victim_ids)
    if not ids or not getattr(user, "pk", None):
        return {}
    items = ReleaseItem.objects.filter(
        release__in=Release.objects.active().filter(
            recipient_id=user.pk, victim_id__in=ids, case_id__in=visible_case_ids(user)
        )
    ).values_list("release__victim_id", "category", "release_id")
    granted = set(
        VictimUserObjectPermission.objects.filter(
            user_id=user.pk, content_object_id__in=ids
        ).values_list("content_object_id", "permission__codename")
    )
    released: dict[int, dict[str, int]] = defaultdict(dict)
    for victim_id, category, release_id in items:
        if (victim_id, f"view_released_{category}") in granted:
            released[victim_id][category] = release_id
    return dict(released)


@dataclass(frozen=True)
class VictimView:
    """What one reader may see of one victim."""

    victim: Victim
    pseudonym: str
    show_identity: bool
    location_fields: frozenset[str]
    case_id: int = 0
    # The releases that opened part of what is shown (none when the role shows it).
    releases: frozenset[int] = frozenset()

    @property
    def display_name(self) -> str:
        return self.victim.full_name if self.show_identity else self.pseudonym

    def location_value(self, location: VictimLocation | None, field: str) -> str | None:
        if location is None or field not in self.location_fields:
            return None
        return str(getattr(location, field))


def victim_views(
    user: Any, links: list[CaseVictim], access: CaseAccess | None = None
) -> list[VictimView]:
    """Judge each victim of `links` for `user`: identity or pseudonym, and which
    locating fields. With `access` (one case's permissions) no query is needed for the
    role-based part; the release part is one or two queries in all."""
    victim_ids = [link.victim_id for link in links]
    if access is not None:
        identity_cases = {access.case_id} if access.has(IDENTITY) else set()
        locating_cases = {access.case_id} if access.has(LOCATING) else set()
    else:
        case_ids = {link.case_id for link in links}
        identity_cases = set(
            Case.objects.filter(pk__in=case_ids_with(user, IDENTITY), id__in=case_ids).values_list(
                "pk", flat=True
            )
        )
        locating_cases = set(
            Case.objects.filter(pk__in=case_ids_with(user, LOCATING), id__in=case_ids).values_list(
                "pk", flat=True
            )
        )
    released = active_releases(user, victim_ids)
    views = []
    for link in links:
        by_category = released.get(link.victim_id, {})
        used: set[int] = set()
        if link.case_id in locating_cases:
            fields = ALL_LOCATING_FIELDS
        else:
            fields = frozenset(f for c in by_category for f in RELEASE_FIELDS.get(c, ()))
            used |= {rid for c, rid in by_category.items() if c in RELEASE_FIELDS}
        show_identity = link.case_id in identity_cases
        if not show_identity and ReleaseCategory.IDENTITY in by_category:
            show_identity = True
            used.add(by_category[ReleaseCategory.IDENTITY])
        views.append(
            VictimView(
                victim=link.victim,
                pseudonym=link.pseudonym,
                show_identity=show_identity,
                location_fields=fields,
                case_id=link.case_id,
                releases=frozenset(used),
            )
        )
    record_disclosures(user, views)
    return views


def record_disclosures(user: Any, views: list[VictimView]) -> None:
    """The victim's ledger: each time their identity or locating information is shown,
    to whom, and under which release. Buffered with the request's other events, so it
    adds no query to the page."""
    for view in views:
        shown = (["identity"] if view.show_identity else []) + sorted(view.location_fields)
        if not shown:
            continue
        record(
            user,
            Action.DISCLOSURE,
            target=view.victim,
            case_id=view.case_id or None,
            victim_id=view.victim.pk,
            detail={
                "shown": shown,
                "release": min(view.releases) if view.releases else None,
                "releases": sorted(view.releases),
            },
        )


def case_victims_panel(case: Case, user: Any, access: CaseAccess | None = None) -> Panel:
    """The victims section of a case page, judged with the case's loaded permissions."""
    access = access or case_access(user, case)
    links = access.filter(CaseVictim.objects.filter(case=case).select_related("victim"))
    views = victim_views(user, links, access)
    shown = [view.victim.pk for view in views if view.location_fields]
    locations = {
        location.victim_id: location for location in locations_for(user).filter(victim_id__in=shown)
    }
    rows = [
        {
            "view": view,
            "link": link,
            "location": {
                LOCATING_LABELS[field]: (view.location_value(locations.get(view.victim.pk), field))
                for field in LOCATING_FIELD_ORDER
                if field in view.location_fields
            },
        }
        for view, link in zip(views, links, strict=True)
    ]
    inputs = access.filter(
        VictimInput.objects.filter(case=case)
        .select_related("author", "acknowledged_by")
        .order_by("-created_at")
    )
    # Orders are read by whoever sees the victims (officers enforce them); each names
    # its victim as the views above do (a pseudonym for treatment and polygraph).
    names = {view.victim.pk: view.display_name for view in views}
    today = timezone.localdate()
    orders = [
        {
            "order": order,
            "victim_name": names.get(order.victim_id, ""),
            "active": order.expires_on is None or order.expires_on >= today,
        }
        # Without a victim on the case the reader sees, there is no order to show.
        for order in (
            access.filter(ProtectiveOrder.objects.filter(case=case).order_by("-issued_on", "-id"))
            if links
            else []
        )
    ]
    return Panel(
        template="victims/case_panel.html",
        context={
            "case": case,
            "victim_rows": rows,
            "victim_inputs": inputs,
            "orders": orders,
            "access": access,
            # Victim representatives record input and change who sees it.
            "can_write_input": bool(writable_levels(access, Info.VICTIM_INPUT)),
            # ... and add victims to the case and record orders (victims.record_views).
            "can_write_victims": access.has(write_codename(Info.VICTIM_IDENTITY)),
        },
    )


def release_writer_roles() -> tuple[str, ...]:
    """The roles that record releases (victim representatives), from the policy table."""
    code = write_codename(Info.RELEASE)
    return tuple(role.value for role in Role if code in role_codenames(role))


def may_write_releases(access: CaseAccess) -> bool:
    """A victim representative of the case's team: the permission, held through an
    active membership of the team. A guest invited to one case reads as the role would
    but records nothing (releases carry no level that could limit what they write)."""
    return access.has(write_codename(Info.RELEASE)) and bool(
        access.roles & set(release_writer_roles())
    )


def release_cases(user: Any, victim: Victim) -> QuerySet[Case]:
    """The cases of `victim` on which the user may record releases: the permission,
    held as a victim representative of the case's team (see may_write_releases)."""
    return (
        Case.objects.filter(
            pk__in=case_ids_with(user, write_codename(Info.RELEASE)),
            team_id__in=team_ids_for(user, release_writer_roles()),
            victim_links__victim=victim,
        )
        .select_related("supervisee")
        .order_by("reference")
    )


@dataclass(frozen=True)
class VictimPage:
    """Everything the victim page shows, judged by the policy for one reader."""

    victim: Victim
    display_name: str
    show_identity: bool
    rows: list[tuple[CaseVictim, VictimView]]
    location: dict[str, str | None]
    releases: list[Release] | None  # None: the reader may not see releases at all
    release_case_ids: frozenset[int]  # the cases on which the reader records releases


def victim_page(user: Any, victim: Victim) -> VictimPage:
    """One victim as `user` may see them: identity or pseudonym, the linked cases the
    user can see, the locating fields allowed, and the releases for their representatives."""
    links = list(
        victim_links_for(user)
        .filter(victim=victim)
        .select_related("case", "case__supervisee")
        .order_by("case__reference")
    )
    views = victim_views(user, links)
    show_identity = any(view.show_identity for view in views)
    fields = frozenset(field for view in views for field in view.location_fields)
    location_row = locations_for(user).filter(victim=victim).first() if fields else None
    location = {
        LOCATING_LABELS[field]: (
            str(getattr(location_row, field)) if location_row is not None else None
        )
        for field in LOCATING_FIELD_ORDER
        if field in fields
    }
    release_case_ids = frozenset(release_cases(user, victim).values_list("pk", flat=True))
    link_case_ids = [link.case_id for link in links]
    reads_releases = Case.objects.filter(
        pk__in=case_ids_with(user, codename(Info.RELEASE)), id__in=link_case_ids
    ).exists()
    releases = (
        list(releases_for(user).filter(victim=victim).order_by("-created_at", "-id"))
        if reads_releases
        else None
    )
    pseudonyms = list(dict.fromkeys(view.pseudonym for view in views))
    return VictimPage(
        victim=victim,
        display_name=victim.full_name if show_identity else " / ".join(pseudonyms),
        show_identity=show_identity,
        rows=list(zip(links, views, strict=True)),
        location=location,
        releases=releases,
        release_case_ids=release_case_ids,
    )
