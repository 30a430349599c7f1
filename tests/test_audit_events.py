"""Every kind of event the audit requirement names is produced by the action that should
produce it, through the web pages and through the API (issue 4).

One table: each row is an event kind and a channel. A row performs the action once, the
way a person (web: django.test.Client) or a program (API: a token client) does, from an
address and user agent of its own, and says which events that one request must leave in
the trail. Each expected event must appear exactly once among the request's events (found
by the X-Request-ID the response carries) with the right actor, action, target, case,
victim, outcome, address and user agent.

Where a channel does not offer an action, the row says so and tests the one that exists.

On PostgreSQL the request's own events are written in one INSERT when the response is
ready, and write-capture triggers add a CREATE/UPDATE/DELETE row per written row with
detail["source"] == "database"; those rows are expected too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Outcome
from audit.services import record
from casework import emergency
from casework.models import Case, CaseNote, EmergencyAccess
from teams.disclosure import DisclosureLevel
from teams.models import Membership, Team, User
from teams.roles import Role
from tests import factories as f
from tests.test_releases import api_as, signed_in
from victims import services as victim_services
from victims.models import Release, Victim

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"
REASON = "Police report a threat to the victim tonight; need the residence conditions now."
BODY = "AUDIT-EVENTS-BODY-7731: met at the office, stable housing."


# --- Channels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    """Web pages or the API, each from its own address and user agent."""

    name: str
    ip: str
    agent: str

    def client(self, user: User | None = None) -> Client:
        """Signed in (a session for the web, a token for the API) or anonymous."""
        client: Client
        if self is WEB:
            client = signed_in(user) if user else Client()
        else:
            client = api_as(user) if user else APIClient()
        client.defaults.update(REMOTE_ADDR=self.ip, HTTP_USER_AGENT=self.agent)
        return client

    def __str__(self) -> str:
        return self.name


WEB = Channel("web", "203.0.113.71", "AuditEventsTest/1.0 (web; Firefox-like)")
API = Channel("api", "198.51.100.23", "AuditEventsTest/1.0 (api; python-requests-like)")


# --- The people and records ---------------------------------------------------------------


@dataclass
class World:
    team: Team
    officer: User  # assigned officer of `case`, author of its notes
    supervisor: User
    reviewer: User  # a second supervisor of the team, who signs off emergency access
    rep: User  # the victim's representative
    treatment: User
    admin: User  # the system administrator: accounts, teams and memberships in the admin
    case: Case
    victim: Victim
    hidden: Case  # another team's case: it exists, and no one above may see it


ACCOUNT_ADMIN_PERMISSIONS = [
    "view_user",
    "change_user",
    "view_team",
    "view_membership",
    "add_membership",
    "change_membership",
    "delete_membership",
]


@pytest.fixture
def world() -> World:
    team = f.make_team()
    officer = f.make_member(team, Role.OFFICER)
    rep = f.make_member(team, Role.VICTIM_REP)
    case = f.make_case(team, officer=officer)
    victim = f.make_victim()
    f.link_victim(case, victim, representative=rep)
    admin = f.make_user(is_staff=True)
    admin.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="teams", codename__in=ACCOUNT_ADMIN_PERMISSIONS
        )
    )
    other = f.make_team()
    return World(
        team=team,
        officer=officer,
        supervisor=f.make_member(team, Role.SUPERVISOR),
        reviewer=f.make_member(team, Role.SUPERVISOR),
        rep=rep,
        treatment=f.make_member(team, Role.TREATMENT),
        admin=admin,
        case=case,
        victim=victim,
        hidden=f.make_case(other, officer=f.make_member(other, Role.OFFICER)),
    )


# --- What a request must leave in the trail -------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One event the request must have recorded, exactly once."""

    action: str
    actor: User | None
    target_type: str
    target_id: Any = ""
    case_id: int | None = None
    victim_id: int | None = None
    outcome: str = Outcome.ALLOWED
    # A write-capture row of the database trigger (detail["source"] == "database").
    by_database: bool = False
    emergency: bool = False
    username: str = ""  # who tried, for a failed sign-in (there is no actor)
    detail: dict[str, Any] = field(default_factory=dict)  # these keys, these values
    fields_named: tuple[str, ...] = ()  # a write names these fields as changed
    not_containing: str = ""  # text that must not be copied into the event

    @property
    def key(self) -> tuple[str, str, str, bool]:
        return (self.action, self.target_type, str(self.target_id), self.by_database)

    def wanted(self, via: Channel, request_id: str) -> dict[str, Any]:
        return {
            "actor_id": self.actor.pk if self.actor else None,
            "actor_username": self.actor.username if self.actor else self.username,
            "case_id": self.case_id,
            "victim_id": self.victim_id,
            "outcome": self.outcome,
            "emergency": self.emergency,
            "request_id": request_id,
            "ip_address": via.ip,
            "user_agent": via.agent,
            **{f"detail[{key!r}]": value for key, value in self.detail.items()},
        }


def key_of(event: AuditEvent) -> tuple[str, str, str, bool]:
    by_database = event.detail.get("source") == "database"
    return (event.action, event.target_type, event.target_id, by_database)


def observed(event: AuditEvent, expected: Expected) -> dict[str, Any]:
    return {
        name: getattr(event, name)
        for name in (
            "actor_id",
            "actor_username",
            "case_id",
            "victim_id",
            "outcome",
            "emergency",
            "request_id",
            "ip_address",
            "user_agent",
        )
    } | {f"detail[{key!r}]": event.detail.get(key) for key in expected.detail}


def request_events(response: Any) -> tuple[str, list[AuditEvent]]:
    """The request's id (from the response header) and every event it recorded."""
    request_id = response["X-Request-ID"]
    assert request_id, "the response names no request id"
    return request_id, list(AuditEvent.objects.filter(request_id=request_id).order_by("seq"))


def find_one(events: list[AuditEvent], want: Expected) -> AuditEvent:
    found = [event for event in events if key_of(event) == want.key]
    summary = [key_of(event) for event in events]
    assert len(found) == 1, f"{want.key} recorded {len(found)} times; the request: {summary}"
    return found[0]


def assert_recorded(response: Any, via: Channel, expected: list[Expected]) -> None:
    """Each expected event is among the request's events exactly once, as expected."""
    request_id, events = request_events(response)
    for want in expected:
        event = find_one(events, want)
        wanted = want.wanted(via, request_id)
        seen = observed(event, want)
        assert {name: seen[name] for name in wanted} == wanted, want.key
        assert event.occurred_at is not None
        assert timezone.now() - dt.timedelta(minutes=10) < event.occurred_at <= timezone.now()
        assert set(want.fields_named) <= set(event.detail.get("fields", [])), event.detail
        if want.not_containing:
            row = AuditEvent.objects.filter(pk=event.pk).values().get()
            assert want.not_containing not in str(row)


Performed = tuple[Any, list[Expected]]


def written(*events: Expected) -> list[Expected]:
    """Write-capture rows: expected on PostgreSQL, where scripts/run_tests.py runs the
    suite (the database's triggers write them)."""
    return list(events) if ON_POSTGRES else []


# --- Reads of case and victim content ------------------------------------------------------


def case_detail(w: World, via: Channel) -> Performed:
    client = via.client(w.officer)
    url = f"/cases/{w.case.pk}/" if via is WEB else f"/api/v1/cases/{w.case.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    return response, [
        Expected(Action.VIEW, w.officer, "casework.case", w.case.pk, case_id=w.case.pk),
    ]


def case_list(w: World, via: Channel) -> Performed:
    """One event per list page, carrying the ids shown (not the other team's case)."""
    response = via.client(w.officer).get("/cases/" if via is WEB else "/api/v1/cases/")
    assert response.status_code == 200
    return response, [
        Expected(Action.LIST, w.officer, "casework.case", detail={"ids": [str(w.case.pk)]}),
    ]


def victim_detail(w: World, via: Channel) -> Performed:
    """The read of the victim's page. The victim is the record read, and is linked to one
    case: both belong on the event."""
    url = f"/victims/{w.victim.pk}/" if via is WEB else f"/api/v1/victims/{w.victim.pk}/"
    response = via.client(w.officer).get(url)
    assert response.status_code == 200
    return response, [
        Expected(
            Action.VIEW,
            w.officer,
            "victims.victim",
            w.victim.pk,
            case_id=w.case.pk,
            victim_id=w.victim.pk,
        ),
    ]


def victim_disclosure(w: World, via: Channel) -> Performed:
    """The same read, for the victim's ledger: what of the victim was shown, to whom."""
    url = f"/victims/{w.victim.pk}/" if via is WEB else f"/api/v1/victims/{w.victim.pk}/"
    response = via.client(w.officer).get(url)
    assert response.status_code == 200
    return response, [
        Expected(
            Action.DISCLOSURE,
            w.officer,
            "victims.victim",
            w.victim.pk,
            case_id=w.case.pk,
            victim_id=w.victim.pk,
            detail={"shown": ["identity"], "release": None},
        ),
    ]


# --- Creates, updates and deletes -----------------------------------------------------------


def note_create(w: World, via: Channel) -> Performed:
    """The service's CREATE names the fields; the trigger's names every column and keeps
    values only for the fields that are not sensitive: never the body."""
    note = {"kind": "supervision", "body": BODY, "disclosure_level": DisclosureLevel.SUPERVISION}
    client = via.client(w.officer)
    if via is WEB:
        response = client.post(f"/cases/{w.case.pk}/notes/new/", note)
        assert response.status_code == 302
    else:
        response = client.post("/api/v1/notes/", {"case": w.case.pk, **note}, format="json")
        assert response.status_code == 201, response.content
    created = CaseNote.objects.get(body=BODY)
    where: dict[str, Any] = {
        "target_id": created.pk,
        "case_id": w.case.pk,
        "not_containing": "AUDIT-EVENTS-BODY",
    }
    return response, [
        Expected(
            Action.CREATE,
            w.officer,
            "casework.casenote",
            **where,
            detail={"fields": ["case", "kind", "body", "disclosure_level"]},
        ),
        *written(
            Expected(
                Action.CREATE,
                w.officer,
                "casework.casenote",
                **where,
                by_database=True,
                fields_named=("case_id", "kind", "body", "disclosure_level", "author_id"),
                detail={
                    "values": {
                        "author_id": {"old": None, "new": w.officer.pk},
                        "kind": {"old": None, "new": "supervision"},
                        "disclosure_level": {"old": None, "new": "supervision"},
                    }
                },
            )
        ),
    ]


def note_level_change(w: World, via: Channel) -> Performed:
    note = f.make_note(w.case, w.officer)
    client = via.client(w.officer)
    level = {"disclosure_level": DisclosureLevel.TEAM}
    if via is WEB:
        response = client.post(f"/notes/{note.pk}/level/", level)
        assert response.status_code == 302
    else:
        response = client.patch(f"/api/v1/notes/{note.pk}/", level, format="json")
        assert response.status_code == 200, response.content
    change = {"old": DisclosureLevel.SUPERVISION, "new": DisclosureLevel.TEAM}
    return response, [
        Expected(
            Action.LEVEL_CHANGE,
            w.officer,
            "casework.casenote",
            note.pk,
            case_id=w.case.pk,
            detail={"field": "disclosure_level", **change, "widened": True},
        ),
        *written(
            Expected(
                Action.UPDATE,
                w.officer,
                "casework.casenote",
                note.pk,
                case_id=w.case.pk,
                by_database=True,
                detail={
                    "fields": ["disclosure_level", "updated_at"],
                    "values": {"disclosure_level": change},
                },
            )
        ),
    ]


def admin_delete(w: World, via: Channel) -> Performed:
    """Deleting happens in the Django admin only: the API deletes nothing, and case
    content is never deleted (the admin shows none of it to staff). A membership is
    deleted here; the trigger records the DELETE, the app the membership change."""
    membership = f.make_membership(f.make_user(), w.team, Role.TREATMENT)
    response = via.client(w.admin).post(
        f"/admin/teams/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    return response, [
        *written(
            Expected(
                Action.DELETE,
                w.admin,
                "teams.membership",
                membership.pk,
                by_database=True,
                detail={"fields": [], "values": {}},
            )
        ),
        Expected(
            Action.MEMBERSHIP_CHANGE,
            w.admin,
            "teams.membership",
            membership.pk,
            detail={"change": "deleted", "user": membership.user_id, "team": w.team.pk},
        ),
    ]


# --- Signing in and out ---------------------------------------------------------------------


def sign_in(w: World, via: Channel) -> Performed:
    """The web signs in with a session; the API's sign-in is the token endpoint, which
    records the token it issued."""
    credentials = {"username": w.officer.username, "password": f.PASSWORD}
    if via is API:
        response = via.client().post("/api/v1/auth/token/", credentials, format="json")
        assert response.status_code == 200, response.content
        return response, [Expected(Action.TOKEN_ISSUED, w.officer, "teams.user", w.officer.pk)]
    response = via.client().post("/accounts/login/", credentials)
    assert response.status_code == 302
    return response, [
        Expected(Action.LOGIN, w.officer, "teams.user", w.officer.pk),
        # Signing in stamps the account's last_login: a write the user's sign-in made.
        *written(
            Expected(
                Action.UPDATE,
                w.officer,
                "teams.user",
                w.officer.pk,
                by_database=True,
                detail={"fields": ["last_login"], "values": {}},
            )
        ),
    ]


def failed_sign_in(w: World, via: Channel) -> Performed:
    """No one is signed in: the event names the username tried, never the password."""
    credentials = {"username": w.officer.username, "password": "wrong-guess-4471"}
    if via is WEB:
        response = via.client().post("/accounts/login/", credentials)
        assert response.status_code == 200  # the form again, with the error
    else:
        response = via.client().post("/api/v1/auth/token/", credentials, format="json")
        assert response.status_code == 401
    return response, [
        Expected(
            Action.LOGIN_FAILED,
            None,
            "",
            username=w.officer.username,
            outcome=Outcome.FAILED,
            not_containing="wrong-guess-4471",
        ),
    ]


def sign_out(w: World, via: Channel) -> Performed:
    """Web only: an API token is not signed out of (there is no such endpoint)."""
    response = via.client(w.officer).post("/accounts/logout/")
    assert response.status_code == 302
    return response, [Expected(Action.LOGOUT, w.officer, "teams.user", w.officer.pk)]


# --- Memberships and permissions --------------------------------------------------------------


def membership_added(w: World, via: Channel) -> Performed:
    """Memberships are managed in the Django admin only (the API's teams are read-only)."""
    newcomer = f.make_user()
    response = via.client(w.admin).post(
        "/admin/teams/membership/add/",
        {
            "user": newcomer.pk,
            "team": w.team.pk,
            "role": Role.TREATMENT,
            "active_from": timezone.localdate().isoformat(),
            "active_to": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content
    membership = Membership.objects.get(user=newcomer)
    return response, [
        Expected(
            Action.MEMBERSHIP_CHANGE,
            w.admin,
            "teams.membership",
            membership.pk,
            detail={"change": "added", "user": newcomer.pk, "team": w.team.pk, "role": "treatment"},
        ),
        *written(
            Expected(
                Action.CREATE,
                w.admin,
                "teams.membership",
                membership.pk,
                by_database=True,
                fields_named=("user_id", "team_id", "role", "active_from", "active_to"),
            )
        ),
    ]


def membership_ended(w: World, via: Channel) -> Performed:
    """The admin's change form ends a membership (admin only, as above)."""
    today = timezone.localdate()
    membership = f.make_membership(f.make_user(), w.team, Role.TREATMENT)
    response = via.client(w.admin).post(
        f"/admin/teams/membership/{membership.pk}/change/",
        {
            "user": membership.user_id,
            "team": w.team.pk,
            "role": Role.TREATMENT,
            "active_from": membership.active_from.isoformat(),
            "active_to": today.isoformat(),
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content
    return response, [
        Expected(
            Action.MEMBERSHIP_CHANGE,
            w.admin,
            "teams.membership",
            membership.pk,
            detail={"change": "changed", "active_to": today.isoformat()},
        ),
        *written(
            Expected(
                Action.UPDATE,
                w.admin,
                "teams.membership",
                membership.pk,
                by_database=True,
                detail={
                    "fields": ["active_to"],
                    "values": {"active_to": {"old": None, "new": today.isoformat()}},
                },
            )
        ),
    ]


def named_members(w: World, via: Channel) -> Performed:
    """A restricted note naming who else may read it: a per-record permission."""
    note = {
        "kind": "supervision",
        "body": BODY,
        "disclosure_level": DisclosureLevel.RESTRICTED,
        "named_members": [w.treatment.pk],
    }
    client = via.client(w.officer)
    if via is WEB:
        response = client.post(f"/cases/{w.case.pk}/notes/new/", note)
        assert response.status_code == 302
    else:
        response = client.post("/api/v1/notes/", {"case": w.case.pk, **note}, format="json")
        assert response.status_code == 201, response.content
    created = CaseNote.objects.get(body=BODY)
    return response, [
        Expected(
            Action.PERMISSION_CHANGE,
            w.officer,
            "casework.casenote",
            created.pk,
            case_id=w.case.pk,
            detail={"named_members": [w.treatment.pk], "previous": []},
        ),
    ]


def admin_grants_permissions(w: World, via: Channel) -> Performed:
    """The admin's user change form makes a colleague staff and gives them a permission
    (admin only: the API manages no accounts). The staff flag is a captured UPDATE; the
    permission itself (a row of the user-permission M2M table) should be a
    PERMISSION_CHANGE naming the user."""
    grantee = f.make_user()
    permission = Permission.objects.get(content_type__app_label="teams", codename="add_membership")
    joined = timezone.localtime(grantee.date_joined)
    response = via.client(w.admin).post(
        f"/admin/teams/user/{grantee.pk}/change/",
        {
            "username": grantee.username,
            "first_name": grantee.first_name,
            "last_name": grantee.last_name,
            "email": grantee.email,
            "is_active": "on",
            "is_staff": "on",
            "user_permissions": [permission.pk],
            "date_joined_0": joined.date().isoformat(),
            "date_joined_1": joined.strftime("%H:%M:%S"),
            "job_title": "",
            "phone": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content
    grantee.refresh_from_db()
    assert grantee.is_staff and grantee.has_perm("teams.add_membership")
    return response, [
        *written(
            Expected(
                Action.UPDATE,
                w.admin,
                "teams.user",
                grantee.pk,
                by_database=True,
                fields_named=("is_staff",),
                detail={"values": {"is_staff": {"old": False, "new": True}}},
            )
        ),
        Expected(Action.PERMISSION_CHANGE, w.admin, "teams.user", grantee.pk),
    ]


# --- Releases of information -------------------------------------------------------------------


def release_created(w: World, via: Channel) -> Performed:
    today = timezone.localdate()
    release = {
        "case": w.case.pk,
        "recipient": w.officer.pk,
        "categories": ["phone"],
        "purpose": "Safety planning with the supervising officer",
        "signed_on": today.isoformat(),
        "expires_on": (today + dt.timedelta(days=90)).isoformat(),
    }
    client = via.client(w.rep)
    if via is WEB:
        response = client.post(f"/victims/{w.victim.pk}/releases/new/", release)
        assert response.status_code == 302
    else:
        payload = {"victim": w.victim.pk, **release}
        response = client.post("/api/v1/releases/", payload, format="json")
        assert response.status_code == 201, response.content
    created = Release.objects.get(victim=w.victim)
    return response, [
        Expected(
            Action.RELEASE_CHANGE,
            w.rep,
            "victims.release",
            created.pk,
            case_id=w.case.pk,
            victim_id=w.victim.pk,
            detail={"change": "created", "victim": w.victim.pk, "recipient": w.officer.pk},
        ),
    ]


def release_revoked(w: World, via: Channel) -> Performed:
    today = timezone.localdate()
    release = victim_services.create_release(
        created_by=w.rep,
        victim=w.victim,
        case=w.case,
        recipient=w.officer,
        categories=["phone"],
        purpose="Safety planning with the supervising officer",
        signed_on=today,
        expires_on=today + dt.timedelta(days=90),
    )
    reason = {"reason": "The victim withdrew consent by phone."}
    client = via.client(w.rep)
    if via is WEB:
        response = client.post(f"/releases/{release.pk}/revoke/", reason)
        assert response.status_code == 302
    else:
        response = client.post(f"/api/v1/releases/{release.pk}/revoke/", reason, format="json")
        assert response.status_code == 200, response.content
    return response, [
        Expected(
            Action.RELEASE_CHANGE,
            w.rep,
            "victims.release",
            release.pk,
            case_id=w.case.pk,
            victim_id=w.victim.pk,
            detail={"change": "revoked", "victim": w.victim.pk, "recipient": w.officer.pk},
            not_containing="withdrew consent",
        ),
    ]


# --- Exports, refusals and the trail itself -----------------------------------------------------


def export(w: World, via: Channel) -> Performed:
    """Web only: the API has no export; its reads of the trail are the rows below."""
    response: Any = via.client(w.supervisor).get("/audit/export.csv")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"seq,")
    return response, [
        Expected(
            Action.EXPORT,
            w.supervisor,
            "audit.auditevent",
            detail={"format": "csv", "filters": {}},
        ),
    ]


def denied(w: World, via: Channel) -> Performed:
    """A 404 for a record that exists but is hidden is recorded as denied."""
    url = f"/cases/{w.hidden.pk}/" if via is WEB else f"/api/v1/cases/{w.hidden.pk}/"
    response = via.client(w.officer).get(url)
    assert response.status_code == 404
    return response, [
        Expected(
            Action.VIEW,
            w.officer,
            "casework.case",
            w.hidden.pk,
            case_id=w.hidden.pk,
            outcome=Outcome.DENIED,
        ),
    ]


def trail_read(w: World, via: Channel) -> Performed:
    response = via.client(w.supervisor).get("/audit/" if via is WEB else "/api/v1/audit-events/")
    assert response.status_code == 200
    return response, [
        Expected(Action.LIST, w.supervisor, "audit.auditevent", detail={"filters": {}}),
    ]


def trail_event_read(w: World, via: Channel) -> Performed:
    """API only: the web shows the trail as pages of rows, with no page per event."""
    own = record(w.supervisor, Action.VIEW, target=w.case, case_id=w.case.pk)
    response = via.client(w.supervisor).get(f"/api/v1/audit-events/{own.seq}/")
    assert response.status_code == 200, response.content
    return response, [
        Expected(Action.VIEW, w.supervisor, "audit.auditevent", own.pk, detail={"seq": own.seq}),
    ]


# --- Emergency access ---------------------------------------------------------------------------


def emergency_start(w: World, via: Channel) -> Performed:
    """Opens another team's case: the start, and the grant on the case it makes. Both
    are marked as emergency events."""
    start = {"reference": w.hidden.reference, "reason": REASON}
    client = via.client(w.supervisor)
    if via is WEB:
        response = client.post("/emergency-access/", start)
        assert response.status_code == 302
    else:
        response = client.post("/api/v1/emergency-access/", start, format="json")
        assert response.status_code == 201, response.content
    access = EmergencyAccess.objects.get(user=w.supervisor)
    return response, [
        Expected(
            Action.EMERGENCY_ACCESS,
            w.supervisor,
            "casework.emergencyaccess",
            access.pk,
            case_id=w.hidden.pk,
            emergency=True,
            detail={"reason": REASON},
        ),
        Expected(
            Action.PERMISSION_CHANGE,
            w.supervisor,
            "casework.case",
            w.hidden.pk,
            case_id=w.hidden.pk,
            emergency=True,
            detail={"grant": "case_access", "user": w.supervisor.pk, "role": "supervisor"},
        ),
    ]


def emergency_sign_off(w: World, via: Channel) -> Performed:
    access = emergency.start(w.supervisor, w.hidden.reference, REASON)
    note = {"note": "Checked with the police report."}
    client = via.client(w.reviewer)
    if via is WEB:
        response = client.post(f"/emergency-access/{access.pk}/review/", note)
        assert response.status_code == 302
    else:
        url = f"/api/v1/emergency-access/{access.pk}/review/"
        response = client.post(url, note, format="json")
        assert response.status_code == 200, response.content
    return response, [
        Expected(
            Action.EMERGENCY_REVIEW,
            w.reviewer,
            "casework.emergencyaccess",
            access.pk,
            case_id=w.hidden.pk,
            detail={"note": note["note"], "user": w.supervisor.pk},
        ),
    ]


# --- The table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    kind: str
    via: Channel
    perform: Callable[[World, Channel], Performed]


BOTH = (WEB, API)

ROWS: list[Row] = [
    *(Row("case detail", via, case_detail) for via in BOTH),
    *(Row("case list", via, case_list) for via in BOTH),
    *(Row("victim detail", via, victim_detail) for via in BOTH),
    *(Row("victim disclosure", via, victim_disclosure) for via in BOTH),
    *(Row("note create", via, note_create) for via in BOTH),
    *(Row("note level change", via, note_level_change) for via in BOTH),
    Row("delete", WEB, admin_delete),
    Row("sign-in", WEB, sign_in),
    Row("sign-in", API, sign_in),
    *(Row("failed sign-in", via, failed_sign_in) for via in BOTH),
    Row("sign-out", WEB, sign_out),
    Row("membership added", WEB, membership_added),
    Row("membership ended", WEB, membership_ended),
    *(Row("named members", via, named_members) for via in BOTH),
    Row("admin grants permissions", WEB, admin_grants_permissions),
    Row("release created", WEB, release_created),
    Row("release created", API, release_created),
    Row("release revoked", WEB, release_revoked),
    Row("release revoked", API, release_revoked),
    Row("export", WEB, export),
    *(Row("denied", via, denied) for via in BOTH),
    *(Row("audit trail read", via, trail_read) for via in BOTH),
    Row("audit event read", API, trail_event_read),
    *(Row("emergency access start", via, emergency_start) for via in BOTH),
    *(Row("emergency access sign-off", via, emergency_sign_off) for via in BOTH),
]


def row_id(row: Row) -> str:
    return f"{row.kind} ({row.via})"


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_the_action_records_its_events(world: World, row: Row) -> None:
    response, expected = row.perform(world, row.via)
    assert_recorded(response, row.via, expected)
