"""What the victims app puts on a review meeting's agenda (issue 7): victim input the
team has not met about yet. Registered with casework.agenda from VictimsConfig.ready(),
because casework may not import victims (dependencies point victims -> casework)."""

from __future__ import annotations

from casework.agenda import Candidate, Window, register_source
from casework.meeting_models import AgendaReason
from victims.models import VictimInput

# Nothing of the input itself: its kind and level decide who sees the item at all
# (casework.agenda.visible_items), not what the item says.
TITLE = "Victim input received"


def new_victim_input(w: Window) -> list[Candidate]:
    """Input on the team's active cases received since its previous held meeting (or
    the last 30 days), and before the meeting starts. One statement."""
    rows = VictimInput.objects.filter(
        case_id__in=w.case_ids,
        created_at__gte=w.since,
        created_at__lt=w.meeting.starts_at,
    )
    return [
        Candidate(case_id=case_id, reason=AgendaReason.VICTIM_INPUT, title=TITLE, source_id=pk)
        for pk, case_id in rows.values_list("pk", "case_id")
    ]


def register() -> None:
    register_source(VictimInput._meta.label_lower, new_victim_input)
