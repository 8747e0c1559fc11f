"""List, read, read-all, preferences; someone else's notification is a 404."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from notifications import services
from notifications.models import Delivery, DeliveryStatus, Notification

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def _notify(user: User, n: int = 1) -> list[Notification]:
    made = []
    for index in range(n):
        notification = services.notify(
            recipient=user, kind="session_opening", data={"time": f"1{index % 10}:00", "link": "/sessions/1/join"}
        )
        assert notification is not None
        made.append(notification)
    return made


def test_list_is_paginated_newest_first_and_filters_unread(client_for: Clients, sam: User) -> None:
    first, second, third = _notify(sam, 3)
    services.mark_read(user=sam, notification=first)
    client = client_for(sam)
    body = client.get("/api/v1/notifications/?limit=2").json()
    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == [third.pk, second.pk]
    unread = client.get("/api/v1/notifications/?unread=true").json()
    assert [item["id"] for item in unread["results"]] == [third.pk, second.pk]
    assert set(unread["results"][0]) == {"id", "kind", "title", "body", "created_at", "read_at", "read"}


def test_mark_read_and_read_all(client_for: Clients, sam: User) -> None:
    first, _ = _notify(sam, 2)
    client = client_for(sam)
    response = client.post(f"/api/v1/notifications/{first.pk}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked_read": 1}
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_someone_elses_notification_is_404(client_for: Clients, sam: User, ava: User) -> None:
    [theirs] = _notify(ava)
    client = client_for(sam)
    assert client.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    client.post("/api/v1/notifications/read-all/")
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get("/api/v1/notifications/").json()["count"] == 0


def test_bad_unread_filter_is_400(client_for: Clients, sam: User) -> None:
    assert client_for(sam).get("/api/v1/notifications/?unread=maybe").status_code == 400


def test_anonymous_is_401(api: APIClient) -> None:
    assert api.get("/api/v1/notifications/").status_code == 401
    assert api.get("/api/v1/notifications/preferences/").status_code == 401


def test_preferences_round_trip(client_for: Clients, sam: User) -> None:
    client = client_for(sam)
    defaults = client.get("/api/v1/notifications/preferences/").json()
    assert defaults["quiet_hours"] is None
    assert defaults["kinds"]["session_opening"] == {"in_app": True, "email": True}
    response = client.patch(
        "/api/v1/notifications/preferences/",
        {"quiet_hours": {"start": "21:30", "end": "07:00"}, "kinds": {"session_opening": {"email": False}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["quiet_hours"] == {"start": "21:30", "end": "07:00"}
    assert response.json()["kinds"]["session_opening"]["email"] is False
    cleared = client.patch("/api/v1/notifications/preferences/", {"quiet_hours": None}, format="json")
    assert cleared.json()["quiet_hours"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"quiet_hours": {"start": "25:00", "end": "07:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": "22-07"},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"kinds": {"diagnosis_update": {"email": True}}},
        {"kinds": {"session_opening": {"email": "sometimes"}}},
        {"kinds": ["session_opening"]},
        {"volume": 11},
    ],
)
def test_invalid_preferences_are_400_and_change_nothing(
    body: dict, client_for: Clients, sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(sam)
    before = db_snapshot()
    response = client.patch("/api/v1/notifications/preferences/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid"
    assert db_snapshot() == before


def test_failed_deliveries_are_visible_to_admins_only(client_for: Clients, ada: User, sam: User) -> None:
    sam.email = "sam@example.invalid"
    sam.save(update_fields=["email"])
    [notification] = _notify(sam)
    Delivery.objects.filter(notification=notification).update(status=DeliveryStatus.FAILED, last_error="SMTPException")
    assert client_for(sam).get("/api/v1/notifications/failed-deliveries/").status_code == 403
    body = client_for(ada).get("/api/v1/notifications/failed-deliveries/").json()
    assert body["count"] == 1 and body["results"][0]["last_error"] == "SMTPException"
