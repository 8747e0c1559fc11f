"""A new password, a deactivation or a role change ends the person's access everywhere,
whichever way it is made (the API, the Django admin's forms, `manage.py changepassword`):
their bearer tokens stop working, their unused realtime tickets open nothing, their open
sockets close, and the change is audited. Also: a bearer token that expires closes the
sockets it opened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import orjson
import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from accounts.selectors import realtime_user
from audit.models import AuditEntry
from server.realtime import REVOCATIONS_CHANNEL
from server.redis_client import get_redis
from tests.factories import UserFactory

# Revocations are published after commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "a-brand-new-passphrase-2026"


class SignedIn:
    """A person signed in through the API with an unused realtime ticket and an open
    notification feed (its channel-layer group) and live-room sockets (the revocation
    channel the room hubs listen on)."""

    def __init__(self, user: User) -> None:
        self.user = user
        token, self.token = AuthToken.objects.create(user=user)
        self.ticket = services.TicketHolder(user_id=user.pk, token_digest=token.digest)
        layer = get_channel_layer()
        self.feed_channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(f"user.{user.pk}", self.feed_channel)
        self.rooms = get_redis().pubsub()
        self.rooms.subscribe(REVOCATIONS_CHANNEL)
        assert self.rooms.get_message(timeout=5)["type"] == "subscribe"

    def api_works(self) -> bool:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        return client.get("/api/v1/me/").status_code == 200

    def feed_event(self) -> dict[str, Any]:
        async def receive() -> dict[str, Any]:
            return await asyncio.wait_for(get_channel_layer().receive(self.feed_channel), timeout=5)

        return async_to_sync(receive)()

    def room_events(self) -> list[dict[str, Any]]:
        events = []
        while (message := self.rooms.get_message(timeout=0.5)) is not None:
            if message["type"] == "message":
                events.append(orjson.loads(message["data"]))
        return events

    def assert_access_ended(self, reason: str) -> None:
        assert not self.api_works()
        assert realtime_user(self.ticket) is None  # the unused ticket opens nothing
        assert self.feed_event() == {"type": "access.revoked", "reason": reason}
        assert {"type": "access.revoked", "reason": reason, "user": self.user.pk} in self.room_events()


@pytest.fixture
def signed_in() -> Iterator[Any]:
    made: list[SignedIn] = []

    def make(user: User) -> SignedIn:
        made.append(SignedIn(user))
        return made[-1]

    yield make
    for person in made:
        person.rooms.close()


@pytest.fixture
def admin_user(settings: Any) -> User:
    # The Django admin's second factor is tested in test_two_factor.py; here the admin is
    # signed in with the password alone, as demo mode allows.
    settings.DEMO = True
    settings.STAFF_REQUIRE_2FA = False
    return UserFactory.create(admin=True, is_superuser=True)


@pytest.fixture
def django_admin(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _change_form_data(client: Client, user: User) -> dict[str, Any]:
    """The admin's change form for ``user`` as it stands, ready to post back."""
    form = client.get(f"/admin/accounts/user/{user.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    joined = user.date_joined.astimezone(UTC)
    data.update({"date_joined_0": joined.strftime("%Y-%m-%d"), "date_joined_1": joined.strftime("%H:%M:%S")})
    for name in ("date_joined", "last_login", "password"):
        data.pop(name, None)
    return data


def test_a_password_set_in_the_django_admin_ends_access_and_is_audited(
    django_admin: Client, admin_user: User, signed_in: Any
) -> None:
    sam = signed_in(UserFactory.create(adult=True))
    response = django_admin.post(
        f"/admin/accounts/user/{sam.user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    sam.user.refresh_from_db()
    assert sam.user.check_password(NEW_PASSWORD)
    sam.assert_access_ended("password_changed")
    entry = AuditEntry.objects.filter(action="user.update", target_id=str(sam.user.pk)).latest("seq")
    assert entry.actor_id == admin_user.pk
    assert entry.data == {"fields": ["password"], "via": "admin"}
    assert NEW_PASSWORD not in str(entry.data)


def test_a_refused_admin_password_form_changes_nothing(django_admin: Client, signed_in: Any) -> None:
    sam = signed_in(UserFactory.create(adult=True))
    before = AuditEntry.objects.count()
    response = django_admin.post(
        f"/admin/accounts/user/{sam.user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": "something-else-entirely", "usable_password": "true"},
    )
    assert response.status_code == 200  # the form again, with its error
    assert sam.api_works()
    assert AuditEntry.objects.count() == before


def test_a_deactivation_in_the_django_admin_ends_access_and_is_audited(
    django_admin: Client, admin_user: User, signed_in: Any
) -> None:
    sam = signed_in(UserFactory.create(adult=True))
    data = _change_form_data(django_admin, sam.user)
    data.pop("is_active")  # an unticked checkbox is not posted
    response = django_admin.post(f"/admin/accounts/user/{sam.user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    sam.user.refresh_from_db()
    assert not sam.user.is_active
    sam.assert_access_ended("deactivated")
    entry = AuditEntry.objects.filter(action="user.deactivate").latest("seq")
    assert entry.actor_id == admin_user.pk and entry.data["via"] == "admin" and "is_active" in entry.data["fields"]


def test_a_role_change_in_the_django_admin_ends_access_and_is_audited(
    django_admin: Client, admin_user: User, signed_in: Any
) -> None:
    dana = signed_in(UserFactory.create(role="clinician"))
    data = {**_change_form_data(django_admin, dana.user), "role": "guardian"}
    response = django_admin.post(f"/admin/accounts/user/{dana.user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    dana.user.refresh_from_db()
    assert dana.user.role == "guardian"
    dana.assert_access_ended("role_changed")
    entry = AuditEntry.objects.filter(action="user.update").latest("seq")
    assert entry.actor_id == admin_user.pk and entry.data["via"] == "admin" and "role" in entry.data["fields"]


def test_other_admin_changes_leave_access_alone(django_admin: Client, signed_in: Any) -> None:
    sam = signed_in(UserFactory.create(adult=True))
    data = {**_change_form_data(django_admin, sam.user), "first_name": "Samuel"}
    assert django_admin.post(f"/admin/accounts/user/{sam.user.pk}/change/", data).status_code == 302
    assert sam.api_works()
    assert realtime_user(sam.ticket) == sam.user
    assert sam.room_events() == []


def test_changepassword_command_ends_access_and_is_audited(
    signed_in: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sam = signed_in(UserFactory.create(adult=True))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", sam.user.username)
    sam.user.refresh_from_db()
    assert sam.user.check_password(NEW_PASSWORD)
    sam.assert_access_ended("password_changed")
    entry = AuditEntry.objects.filter(action="user.update").latest("seq")
    assert entry.actor_id is None and entry.data == {"fields": ["password"], "via": "changepassword"}


def test_an_api_password_change_ends_access_and_is_audited(signed_in: Any) -> None:
    ada = UserFactory.create(admin=True)
    sam = signed_in(UserFactory.create(adult=True))
    admin_client = APIClient()
    admin_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AuthToken.objects.create(user=ada)[1]}")
    response = admin_client.patch(f"/api/v1/users/{sam.user.pk}/", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200
    sam.assert_access_ended("password_changed")
    entry = AuditEntry.objects.filter(action="user.update").latest("seq")
    assert entry.actor_id == ada.pk and entry.data == {"fields": ["password"]}


def test_an_expired_token_is_purged_and_closes_only_the_sockets_it_opened(signed_in: Any) -> None:
    sam = signed_in(UserFactory.create(adult=True))  # with a token valid for hours
    with time_machine.travel(timezone.now() - timedelta(minutes=90), tick=False):
        short, _ = AuthToken.objects.create(user=sam.user, expiry=timedelta(hours=1))
    assert services.purge_expired_tokens() == 1
    assert services.purge_expired_tokens() == 0  # a second run finds nothing
    assert not AuthToken.objects.filter(digest=short.digest).exists()
    assert sam.api_works()  # the other token lives on
    event = {"type": "access.revoked", "reason": "token_expired", "token_digest": short.digest}
    assert sam.feed_event() == event
    assert sam.room_events() == [{**event, "user": sam.user.pk}]


def test_the_token_purge_runs_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-tokens"]
    assert entry["task"] == "accounts.tasks.purge_expired_tokens"
    assert entry["schedule"] <= 60


def test_an_admin_demoted_in_the_django_admin_leaves_it(django_admin: Client, signed_in: Any) -> None:
    """Django-admin rights follow the role, as create_user sets them: a program admin made a
    clinician loses them at once, whatever the form's staff and superuser boxes say."""
    demoted = signed_in(UserFactory.create(admin=True, is_superuser=True))
    their_admin = Client()
    their_admin.force_login(demoted.user)
    assert their_admin.get("/admin/").status_code == 200
    data = {**_change_form_data(django_admin, demoted.user), "role": "clinician"}
    assert django_admin.post(f"/admin/accounts/user/{demoted.user.pk}/change/", data).status_code == 302
    demoted.user.refresh_from_db()
    assert (demoted.user.role, demoted.user.is_staff, demoted.user.is_superuser) == ("clinician", False, False)
    demoted.assert_access_ended("role_changed")
    assert their_admin.get("/admin/").status_code == 302  # to the admin's sign-in
