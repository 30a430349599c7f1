"""Builds the demo agency: two teams, one account per role, about twenty people under
supervision with cases, notes, decisions, victims and an upcoming review meeting.

Every row is found by a natural key before it is created, so a second run changes
nothing. It lives in the victims app because that app sits on top of the others.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from casework import agenda
from casework.models import (
    Case,
    CaseDecision,
    CaseNote,
    CaseStatus,
    DecisionKind,
    DecisionStatus,
    NoteKind,
    RiskLevel,
    Supervisee,
    SupervisionLevel,
)
from teams import meetings, recurrence
from teams.disclosure import DisclosureLevel
from teams.glossary import anchor_for
from teams.meetings import Details
from teams.models import (
    Discipline,
    GlossaryTerm,
    MeetingSeries,
    MeetingStatus,
    Membership,
    ReviewMeeting,
    Team,
    User,
)
from teams.roles import Role
from victims.models import CaseVictim, RelationshipCategory, Victim, VictimInput, VictimLocation

# The demo teams' recurring case review (issue 7): the first Tuesday of each month.
MONTHLY_REVIEW = "Monthly MDT case review"
MONTHLY_RULE = "FREQ=MONTHLY;BYDAY=1TU"

TEAMS = [
    (
        "Hartford North MDT",
        "Hartford Adult Probation, 80 Washington St",
        "Hartford Judicial District",
    ),
    ("New Haven MDT", "New Haven Adult Probation, 235 Church St", "New Haven Judicial District"),
]

# username, first, last, job title, memberships as (team index, role)
PEOPLE: list[tuple[str, str, str, str, list[tuple[int, Role]]]] = [
    ("officer", "Olivia", "Ortiz", "Probation officer", [(0, Role.OFFICER)]),
    ("officer2", "Owen", "Okafor", "Probation officer", [(1, Role.OFFICER)]),
    (
        "supervisor",
        "Sandra",
        "Silva",
        "Supervising probation officer",
        [(0, Role.SUPERVISOR), (1, Role.SUPERVISOR)],
    ),
    (
        "advocate",
        "Alex",
        "Avery",
        "Embedded victim representative",
        [(0, Role.VICTIM_REP), (1, Role.VICTIM_REP)],
    ),
    (
        "treatment",
        "Taylor",
        "Tran",
        "Treatment provider",
        [(0, Role.TREATMENT), (1, Role.TREATMENT)],
    ),
    (
        "polygraph",
        "Pat",
        "Pereira",
        "Polygraph examiner",
        [(0, Role.POLYGRAPH), (1, Role.POLYGRAPH)],
    ),
]

SUPERVISEES = [
    ("Marcus", "Bell"),
    ("Daniel", "Cruz"),
    ("Kevin", "Dawson"),
    ("Jordan", "Ellis"),
    ("Brian", "Foster"),
    ("Luis", "Garcia"),
    ("Terrence", "Hale"),
    ("Samuel", "Ingram"),
    ("Victor", "Jensen"),
    ("Raymond", "Kim"),
    ("Anthony", "Lopez"),
    ("Gregory", "Moore"),
    ("Dennis", "Nolan"),
    ("Patrick", "Owens"),
    ("Curtis", "Price"),
    ("Jerome", "Quinn"),
    ("Wesley", "Reyes"),
    ("Howard", "Stone"),
    ("Trevor", "Underwood"),
    ("Calvin", "Vance"),
]

VICTIM_NAMES = [
    ("Emily", "Hart"),
    ("Grace", "Lin"),
    ("Maria", "Santos"),
    ("Hannah", "Brooks"),
    ("Chloe", "Adams"),
    ("Nina", "Patel"),
    ("Rosa", "Mendez"),
    ("Lily", "Turner"),
    ("Jasmine", "Ward"),
    ("Ava", "Collins"),
    ("Sofia", "Rivera"),
    ("Megan", "Fox"),
    ("Dana", "Kerr"),
    ("Isabel", "Nunez"),
]

CONDITIONS = [
    "No contact with the victim, directly or through others",
    "Attend and participate in sex offense specific treatment",
    "Submit to maintenance polygraph examinations",
    "No unsupervised contact with minors",
    "Residence to be approved by the supervising officer",
    "Electronic monitoring (GPS) for the first 12 months",
]

NOTES = [
    (
        NoteKind.SUPERVISION,
        DisclosureLevel.SUPERVISION,
        "Home visit completed. Residence matches the approved address; no concerns observed.",
    ),
    (
        NoteKind.TREATMENT,
        DisclosureLevel.SUPERVISION,
        "Attended weekly group. Engaged in discussion of relapse prevention plan.",
    ),
    (
        NoteKind.POLYGRAPH,
        DisclosureLevel.SUPERVISION,
        "Maintenance polygraph scheduled; pre-test interview covered contact with minors.",
    ),
    (
        NoteKind.GENERAL,
        DisclosureLevel.TEAM,
        "Employment verified with the employer by phone. Schedule shared with the team.",
    ),
]

RELATIONSHIPS = list(RelationshipCategory.values)

# The glossary's first terms (issue 6): those the seed presentation names as barriers of
# terminology between the disciplines, and the app's own words. Found by slug, so a
# second run adds nothing and keeps any supervisor's later edit.
GLOSSARY: list[tuple[str, Discipline, str]] = [
    (
        "containment",
        Discipline.SUPERVISION,
        "The containment approach to sex offender management: supervision, treatment and "
        "polygraph examination working as one team, each reinforcing the others, so that "
        "the person under supervision keeps to their conditions and risk is managed in "
        "the community, with the safety of victims as the aim.",
    ),
    (
        "maintenance polygraph",
        Discipline.POLYGRAPH,
        "A polygraph examination repeated during supervision that asks about keeping to "
        "the conditions and treatment rules since the last one (contact with minors, "
        "internet use, being in restricted places). Results help the team aim supervision "
        "and treatment; they are one source among several, not proof on their own.",
    ),
    (
        "safety planning",
        Discipline.VICTIM_SERVICES,
        "Work with a victim to lower the risk of further harm: how to get help quickly, "
        "what to do on seeing the person, changes to routines, and which protective "
        "orders or conditions to ask for. The plan belongs to the victim; its details "
        "stay with victim services.",
    ),
    (
        "release of information",
        Discipline.VICTIM_SERVICES,
        "A victim's consent letting one named member of the team see named kinds of "
        "their information (name, home address, phone, e-mail, employer or school) for "
        "a stated purpose, until a date. The victim may withdraw it at any time. Without "
        "one, only the victim representatives see where a victim can be found.",
    ),
    (
        "duty to warn",
        Discipline.SHARED,
        "The obligation to act on a credible threat of serious harm to an identifiable "
        "person: report it at once so that the person at risk can be warned and "
        "protected. A duty-to-warn report alerts the supervisor and the victim "
        "representative immediately and is escalated until someone acknowledges it.",
    ),
    (
        "harm prevention",
        Discipline.SHARED,
        "The frame the team weighs a decision in: its benefits and costs for the person "
        "under supervision, for those who were harmed, and for the community. Danger to "
        "the community or to a victim takes precedence and is never traded away.",
    ),
    (
        "disclosure level",
        Discipline.SHARED,
        "Who on the team may read a record: the whole team; supervision (officer, "
        "supervisor, treatment, polygraph); supervision and victim services (officer, "
        "supervisor, victim representatives); victim services only; or restricted (the "
        "author and the members they name). The author chooses it, within what their "
        "role may choose (see the role cards).",
    ),
    (
        "pseudonym",
        Discipline.SHARED,
        "The name a case uses for a victim instead of their identity, such as “Person "
        "harmed 1”. Treatment providers and polygraph examiners see the pseudonym and "
        "the relationship, never the victim's name.",
    ),
    (
        "victim representative",
        Discipline.VICTIM_SERVICES,
        "A victim advocate embedded in the supervision team: gives the team case-level "
        "input for victims, keeps victims' contact details and releases of information, "
        "and passes on to victims the information they ask for.",
    ),
    (
        "MDT",
        Discipline.SHARED,
        "Multidisciplinary team: the people who manage a case together, namely the "
        "supervising officer, a supervisor, the treatment provider, the polygraph "
        "examiner and the victim representative.",
    ),
]


class Command(BaseCommand):
    help = "Load the demo teams, users and caseload. Safe to run more than once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD", "demo"),
            help="Password for every demo account (default: DEMO_PASSWORD or 'demo').",
        )
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with a known password; it refuses to run with "
                "DEBUG off. Pass --force if this really is a demonstration system."
            )
        with transaction.atomic():
            created = self._seed(options["password"])
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({created} new rows).")
            if created
            else "Demo data already present; nothing changed."
        )

    def _seed(self, password: str) -> int:
        self.created = 0
        teams = [
            self._get(Team, name=name, defaults={"office": office, "jurisdiction": where})
            for name, office, where in TEAMS
        ]
        users: dict[str, User] = {}
        for username, first, last, title, memberships in PEOPLE:
            users[username] = self._user(username, first, last, title, password)
            for team_index, role in memberships:
                self._get(
                    Membership,
                    user=users[username],
                    team=teams[team_index],
                    role=role,
                    active_to=None,
                    defaults={"active_from": dt.date(2024, 1, 1)},
                )
        admin = self._user("admin", "Ada", "Admin", "System administrator", password, staff=True)
        self._grant_account_admin(admin)

        today = timezone.localdate()
        victims = [
            self._victim(index, first, last) for index, (first, last) in enumerate(VICTIM_NAMES)
        ]
        for index, (first, last) in enumerate(SUPERVISEES):
            team_index = index % 2
            officer = users["officer" if team_index == 0 else "officer2"]
            case = self._case(index, first, last, teams[team_index], officer, today)
            self._notes(case, index, users)
            # Most cases have one represented victim; case 0 and case 13 share victim 0,
            # the same person harmed by two people under supervision.
            if index < len(victims):
                self._link(case, victims[index], users["advocate"])
            if index == 13:
                self._link(case, victims[0], users["advocate"])
            if index % 3 == 0:
                self._get(
                    CaseDecision,
                    case=case,
                    kind=DecisionKind.RESIDENCE if index % 2 == 0 else DecisionKind.EMPLOYMENT,
                    defaults={
                        "status": DecisionStatus.DRAFT,
                        "summary": "Proposed move to a new address within the county",
                        "rationale": "Closer to treatment provider and employment.",
                        "author": officer,
                        "disclosure_level": DisclosureLevel.TEAM,
                    },
                )
            if index % 4 == 0:
                self._get(
                    VictimInput,
                    case=case,
                    author=users["advocate"],
                    defaults={
                        "body": "The victim asks to be told before any change of residence "
                        "area is approved.",
                        "disclosure_level": DisclosureLevel.TEAM,
                    },
                )
        for team in teams:
            self._meeting(team, users["supervisor"], today)
        for term, discipline, definition in GLOSSARY:
            self._get(
                GlossaryTerm,
                slug=anchor_for(term),
                defaults={
                    "term": term,
                    "discipline": discipline,
                    "definition": definition,
                    "updated_by": users["supervisor"],
                },
            )
        return self.created

    def _get(self, model: Any, defaults: dict[str, Any] | None = None, **lookup: Any) -> Any:
        obj, created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
        self.created += int(created)
        return obj

    def _user(
        self, username: str, first: str, last: str, title: str, password: str, staff: bool = False
    ) -> User:
        user = self._get(
            User,
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@demo.invalid",
                "job_title": title,
                "is_staff": staff,
            },
        )
        # Checking first keeps a second run from rehashing (and so changing) every password.
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _grant_account_admin(self, admin: User) -> None:
        codenames = [
            f"{action}_{model}"
            for model in ("user", "team", "membership")
            for action in ("view", "add", "change")
        ]
        wanted = Permission.objects.filter(content_type__app_label="teams", codename__in=codenames)
        missing = wanted.exclude(pk__in=admin.user_permissions.values("pk"))
        if missing.exists():
            self.created += missing.count()
            admin.user_permissions.add(*missing)

    def _victim(self, index: int, first: str, last: str) -> Victim:
        victim = self._get(
            Victim,
            first_name=first,
            last_name=last,
            defaults={"relationship_category": RELATIONSHIPS[index % len(RELATIONSHIPS)]},
        )
        self._get(
            VictimLocation,
            victim=victim,
            defaults={
                "address_line1": f"{100 + index * 7} Maple Avenue",
                "city": "Hartford" if index % 2 == 0 else "New Haven",
                "postal_code": f"06{100 + index * 3:03d}",
                "phone": f"860-555-{index:04d}",
                "email": f"{first.lower()}.{last.lower()}@example.org",
                "employer": "Riverside Grocery" if index % 3 == 0 else "",
                "school": "Capital Community College" if index % 4 == 1 else "",
            },
        )
        return victim

    def _case(
        self, index: int, first: str, last: str, team: Team, officer: User, today: dt.date
    ) -> Case:
        supervisee = self._get(
            Supervisee,
            docket_number=f"HHD-CR24-{6000 + index:06d}",
            defaults={
                "first_name": first,
                "last_name": last,
                "date_of_birth": dt.date(1970 + index, 1 + index % 12, 1 + index % 27),
                "risk_level": [RiskLevel.LOW, RiskLevel.MODERATE, RiskLevel.HIGH][index % 3],
                "supervision_level": [
                    SupervisionLevel.MEDIUM,
                    SupervisionLevel.MAXIMUM,
                    SupervisionLevel.INTENSIVE,
                ][index % 3],
            },
        )
        return self._get(
            Case,
            reference=f"C-2024-{index + 1:04d}",
            defaults={
                "supervisee": supervisee,
                "team": team,
                "assigned_officer": officer,
                "status": CaseStatus.WARRANT if index == 7 else CaseStatus.ACTIVE,
                "supervision_start": dt.date(2024, 1 + index % 12, 1),
                "conditions": "\n".join(CONDITIONS[: 3 + index % 4]),
                "next_review_due": today + dt.timedelta(days=(index * 5) % 60 - 10),
            },
        )

    def _notes(self, case: Case, index: int, users: dict[str, User]) -> None:
        authors = {
            NoteKind.SUPERVISION: users["officer" if case.team.name == TEAMS[0][0] else "officer2"],
            NoteKind.TREATMENT: users["treatment"],
            NoteKind.POLYGRAPH: users["polygraph"],
            NoteKind.GENERAL: users["supervisor"],
        }
        for kind, level, body in NOTES[: 2 + index % 3]:
            self._get(
                CaseNote,
                case=case,
                kind=kind,
                body=body,
                defaults={"author": authors[kind], "disclosure_level": level},
            )

    def _link(self, case: Case, victim: Victim, advocate: User) -> None:
        if CaseVictim.objects.filter(case=case, victim=victim).exists():
            return
        number = CaseVictim.objects.filter(case=case).count() + 1
        self._get(
            CaseVictim,
            case=case,
            victim=victim,
            defaults={"pseudonym": f"Person harmed {number}", "representative": advocate},
        )

    def _meeting(self, team: Team, organiser: User, today: dt.date) -> None:
        """The team's monthly case review: a series on the first Tuesday of each month at
        10:00 local time, whose meetings are generated ahead with their reminders and
        agendas (issue 7). Found by team and title, so a later run only adds the meetings
        that have come within the horizon. A one-off meeting of that title left by an
        earlier version of this command becomes the series' first meeting."""
        now = timezone.now()
        series = MeetingSeries.objects.filter(team=team, title=MONTHLY_REVIEW).first()
        legacy = ReviewMeeting.objects.filter(
            team=team,
            title=MONTHLY_REVIEW,
            series__isnull=True,
            status=MeetingStatus.SCHEDULED,
            starts_at__gt=now,
        ).first()
        if series is None:
            first_of_next = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            tuesday = first_of_next + dt.timedelta(days=(1 - first_of_next.weekday()) % 7)
            start = (
                legacy.starts_at
                if legacy is not None
                else timezone.make_aware(dt.datetime.combine(tuesday, dt.time(10, 0)))
            )
            where = Details(
                starts_at=start,
                location=f"Conference room B, {team.office.split(',')[0]}",
                title=MONTHLY_REVIEW,
            )
            cleaned, rule = meetings.check_series(organiser, team, where, MONTHLY_RULE, now)
            assert cleaned.starts_at is not None  # checked: a first meeting ahead
            series = MeetingSeries.objects.create(
                team=team,
                title=MONTHLY_REVIEW,
                rule=rule,
                starts_at=cleaned.starts_at,
                duration_minutes=cleaned.duration_minutes or 60,
                location=cleaned.location,
                reminder_offsets=cleaned.reminder_offsets,
                created_by=organiser,
            )
            self.created += 1
            if legacy is not None and legacy.starts_at in recurrence.occurrences(
                rule, series.starts_at, now, legacy.starts_at
            ):
                ReviewMeeting.objects.filter(pk=legacy.pk).update(
                    series=series, occurrence_of=legacy.starts_at
                )
                meetings.publish(legacy, now)
                agenda.build(legacy)
        for meeting in meetings.generate(series, now):
            agenda.build(meeting)
            self.created += 1
