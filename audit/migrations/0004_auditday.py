"""Where each UTC day's events lie in the chain (audit.models.AuditDay), for the review
page's date filter; filled here from the events already recorded, and kept from then on
by the chain triggers (audit.database, audit.sqlite)."""

import datetime as dt
from typing import Any

from django.db import migrations, models
from django.db.models import Max, Min
from django.db.models.functions import TruncDate


def backfill(apps: Any, schema_editor: Any) -> None:
    """One row per UTC day of the events there are: the smallest and largest seq.

    On PostgreSQL, the trail is locked against inserts first and the chain function that
    keeps the table is installed in this same transaction: an event written while this
    migration runs waits for it, and is then chained by the new function, so no event
    falls between the backfill and the trigger. (On SQLite, migrate sets the triggers
    aside while migrations run and installs them, these included, afterwards.)"""
    connection = schema_editor.connection
    alias = connection.alias
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditDay = apps.get_model("audit", "AuditDay")
    if connection.vendor == "postgresql":
        from audit.database import install_chain_function

        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE")
        install_chain_function(alias, days=True)
    days = (
        AuditEvent.objects.using(alias)
        .exclude(seq=None)
        .annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .order_by()
        .values("day")
        .annotate(first_seq=Min("seq"), last_seq=Max("seq"))
        .values_list("day", "first_seq", "last_seq")
    )
    AuditDay.objects.using(alias).bulk_create(
        (AuditDay(day=day, first_seq=first, last_seq=last) for day, first, last in days),
        batch_size=1000,
    )


def stop_keeping(apps: Any, schema_editor: Any) -> None:
    """Migrating back: the chain function stops writing to the table before it is dropped."""
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        from audit.database import install_chain_function

        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE")
        install_chain_function(connection.alias, days=False)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_decision_and_warning_actions"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditDay",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
                ("first_seq", models.BigIntegerField()),
                ("last_seq", models.BigIntegerField()),
            ],
            options={
                "ordering": ["day"],
            },
        ),
        migrations.RunPython(backfill, stop_keeping),
    ]
