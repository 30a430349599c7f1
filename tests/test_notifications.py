"""The notifications inbox: a person's own notifications only, newest first, paginated,
unread ones highlighted; opening one (a POST) marks it read and goes to its link; the
unread count in the navigation; the API (own only, the unread filter, marking read).
Notifications are not in the case matrix (tests/authz.py EXEMPT): each answers only its
recipient and carries a link, never case content."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from teams.models import Notification, NotificationKind, User
from teams.notification_views import own_notifications
from teams.notify import notify
from tests import factories as f

pytestmark = pytest.mark.django_db

INBOX = "/notifications/"
API = "/api/v1/notifications/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def html(response: Any) -> str:
    content: bytes = response.content
    return content.decode()


def make_notifications(user: User, count: int, prefix: str = "Item") -> list[Notification]:
    """`count` notifications, the first the oldest (created a minute apart)."""
    rows = []
    start = timezone.now() - dt.timedelta(minutes=count)
    for number in range(count):
        (row,) = notify(
            [user],
            NotificationKind.APPROVAL_REQUESTED,
            f"{prefix} {number:02d}",
            f"/cases/{number + 1}/",
            key=f"test:{prefix}:{number}",
            email=False,
        )
        Notification.objects.filter(pk=row.pk).update(
            created_at=start + dt.timedelta(minutes=number)
        )
        rows.append(row)
    return rows


@pytest.fixture
def people() -> tuple[User, User]:
    return f.make_user(), f.make_user()


def test_inbox_lists_own_notifications_newest_first_with_unread_highlighted(
    people: tuple[User, User],
) -> None:
    me, other = people
    mine = make_notifications(me, 3)
    theirs = make_notifications(other, 2, prefix="Secret")
    Notification.objects.filter(pk=mine[0].pk).update(read_at=timezone.now())
    page = html(signed_in(me).get(INBOX))
    assert page.index("Item 02") < page.index("Item 01") < page.index("Item 00")
    assert "Secret" not in page
    for row in theirs:
        assert f'id="notification-{row.pk}"' not in page
    assert f'<tr id="notification-{mine[0].pk}" class="notification">' in page
    for row in mine[1:]:
        assert f'<tr id="notification-{row.pk}" class="notification highlight unread">' in page
    assert "3 notifications, 2 unread." in page
    event = AuditEvent.objects.filter(
        actor=me, action=Action.LIST, target_type="teams.notification"
    ).latest("seq")
    assert event.detail["ids"] == [str(row.pk) for row in reversed(mine)]


def test_inbox_is_paginated(people: tuple[User, User]) -> None:
    me, _ = people
    make_notifications(me, 30)
    first = html(signed_in(me).get(INBOX))
    assert first.count('<tr id="notification-') == 25
    assert "Page 1 of 2" in first and "Item 29" in first and "Item 04" not in first
    second = html(signed_in(me).get(INBOX, {"page": 2}))
    assert second.count('<tr id="notification-') == 5 and "Item 04" in second
    assert signed_in(me).get(INBOX, {"page": "zzz"}).status_code == 200


def test_opening_marks_read_and_goes_to_the_link(people: tuple[User, User]) -> None:
    me, other = people
    (row,) = make_notifications(me, 1)
    client = signed_in(me)
    url = reverse("notification-open", args=[row.pk])
    assert client.get(url).status_code == 405  # reading is a POST: a prefetch marks nothing
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/cases/1/"
    row.refresh_from_db()
    first_read = row.read_at
    assert first_read is not None
    client.post(url)  # opening again keeps the first time
    row.refresh_from_db()
    assert row.read_at == first_read
    # Another person's notification is not there for them.
    assert signed_in(other).post(url).status_code == 404
    assert signed_in(other).post(reverse("notification-open", args=[999999])).status_code == 404


@pytest.mark.parametrize("link", ["https://evil.example/x", "//evil.example/x", "javascript:x"])
def test_a_link_that_leaves_the_app_goes_to_the_inbox(people: tuple[User, User], link: str) -> None:
    me, _ = people
    row = Notification.objects.create(recipient=me, kind="approval_requested", title="x", link=link)
    response = signed_in(me).post(reverse("notification-open", args=[row.pk]))
    assert response.status_code == 302 and response["Location"] == INBOX


def test_signed_out_visitors_are_sent_to_sign_in(people: tuple[User, User]) -> None:
    me, _ = people
    (row,) = make_notifications(me, 1)
    for response in (
        Client().get(INBOX),
        Client().post(reverse("notification-open", args=[row.pk])),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    row.refresh_from_db()
    assert row.read_at is None
    assert APIClient().get(API).status_code == 401


def test_navigation_shows_the_unread_count_in_one_query(people: tuple[User, User]) -> None:
    me, other = people
    team = f.make_team()
    f.make_membership(me, team, "officer")
    make_notifications(me, 4)
    make_notifications(other, 2, prefix="Other")
    client = signed_in(me)
    assert 'Notifications <span class="count">(4 unread)</span>' in html(client.get("/"))
    Notification.objects.filter(recipient=me).update(read_at=timezone.now())
    page = html(client.get("/"))
    assert "unread)</span>" not in page and ">Notifications</a>" in page

    with CaptureQueriesContext(connection) as captured:
        client.get(INBOX)
    counts = [
        q["sql"]
        for q in captured.captured_queries
        if "teams_notification" in q["sql"] and "read_at" in q["sql"] and "COUNT" in q["sql"]
    ]
    # The navigation's unread count: one COUNT (the page's own count has no read_at filter).
    assert len(counts) == 1, counts


# --- The API ---------------------------------------------------------------------------


def test_api_lists_own_notifications_only(people: tuple[User, User]) -> None:
    me, other = people
    mine = make_notifications(me, 3)
    make_notifications(other, 2, prefix="Secret")
    Notification.objects.filter(pk=mine[0].pk).update(read_at=timezone.now())
    body = api_as(me).get(API).json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [row.pk for row in reversed(mine)]
    assert set(body["results"][0]) == {
        "id",
        "kind",
        "kind_display",
        "title",
        "link",
        "created_at",
        "read_at",
    }
    unread = api_as(me).get(API, {"unread": "true"}).json()
    assert [row["id"] for row in unread["results"]] == [mine[2].pk, mine[1].pk]
    read = api_as(me).get(API, {"unread": "false"}).json()
    assert [row["id"] for row in read["results"]] == [mine[0].pk]
    bad = api_as(me).get(API, {"unread": "maybe"})
    assert bad.status_code == 400 and set(bad.json()) == {"unread"}
    assert AuditEvent.objects.filter(actor=me, action=Action.LIST).exists()


def test_api_detail_and_mark_read_are_own_only(people: tuple[User, User]) -> None:
    me, other = people
    (row,) = make_notifications(me, 1)
    assert api_as(me).get(f"{API}{row.pk}/").json()["title"] == "Item 00"
    assert api_as(other).get(f"{API}{row.pk}/").status_code == 404
    assert api_as(other).post(f"{API}{row.pk}/read/").status_code == 404
    row.refresh_from_db()
    assert row.read_at is None
    assert api_as(me).get(f"{API}{row.pk}/read/").status_code == 405
    response = api_as(me).post(f"{API}{row.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    row.refresh_from_db()
    first = row.read_at
    api_as(me).post(f"{API}{row.pk}/read/")
    row.refresh_from_db()
    assert row.read_at == first
    for method in ("put", "patch", "delete"):
        response = getattr(api_as(me), method)(f"{API}{row.pk}/", {"read_at": None}, format="json")
        assert response.status_code == 405, method
    assert api_as(me).post(API, {"title": "x"}).status_code == 405


def test_an_inactive_account_reads_nothing(people: tuple[User, User]) -> None:
    me, _ = people
    make_notifications(me, 2)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=me).key}")
    assert client.get(API).json()["count"] == 2
    me.is_active = False
    me.save()
    assert client.get(API).status_code == 401
    assert not own_notifications(me).exists()
