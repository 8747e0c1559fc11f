"""A guardian's access ends when it should: at the adolescent's 18th birthday (at once for
every read, then the link is ended, the guardian told why and their sockets closed), unless
the now-adult participant consents as an adult; and a consent that shares nothing is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, GuardianLink, User
from accounts.selectors import adolescents_visible_to_guardian, guardian_may_see
from accounts.services import end_guardian_access_at_adulthood, give_consent
from accounts.tasks import end_guardian_access_at_adulthood as end_guardian_access_task
from audit.models import AuditEntry
from notifications.kinds import NotificationKind
from notifications.models import Notification
from server.realtime import REVOCATIONS_CHANNEL
from server.redis_client import get_redis
from sessions.selectors import sessions_visible_to
from tests.factories import make_session

pytestmark = pytest.mark.django_db

Clients = Callable[[User], APIClient]


@pytest.fixture
def turning_18(ava: User) -> datetime:
    """ava's 18th birthday, noon UTC, with ava born 17 years and 360 days before today."""
    today = timezone.localdate()
    ava.birth_date = today.replace(year=today.year - 18) + timedelta(days=5)
    if (ava.birth_date.month, ava.birth_date.day) == (2, 29):  # pragma: no cover - keep the test's arithmetic plain
        ava.birth_date += timedelta(days=1)
    ava.save(update_fields=["birth_date"])
    birthday = ava.birth_date.replace(year=ava.birth_date.year + 18)
    return datetime(birthday.year, birthday.month, birthday.day, 12, tzinfo=UTC)


@pytest.fixture
def revocations() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(REVOCATIONS_CHANNEL)

    def received() -> list[dict[str, Any]]:
        # get_message answers None for the (ignored) subscribe confirmation too: read a few.
        messages = [pubsub.get_message(timeout=0.2) for _ in range(5)]
        return [orjson.loads(message["data"]) for message in messages if message is not None]

    yield received
    pubsub.close()


def test_a_guardian_sees_nothing_from_the_18th_birthday_on_even_before_the_task_runs(
    pat: User, ava: User, turning_18: datetime
) -> None:
    family = make_session(kind="family", roster=[ava], guardians=[pat])
    assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
    assert list(sessions_visible_to(pat)) == [family]
    with time_machine.travel(turning_18 - timedelta(days=1), tick=False):
        assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
    with time_machine.travel(turning_18, tick=False):
        assert not guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
        assert not adolescents_visible_to_guardian(guardian=pat, scope=ConsentScope.SCHEDULE).exists()
        assert not sessions_visible_to(pat).exists()


def test_the_task_ends_the_link_tells_the_guardian_closes_sockets_and_audits_once(
    pat: User, ava: User, turning_18: datetime, revocations: Callable[[], list[dict[str, Any]]],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    with time_machine.travel(turning_18 - timedelta(days=1), tick=False):
        assert end_guardian_access_task() == 0
    with time_machine.travel(turning_18, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert end_guardian_access_task() == 1
        assert end_guardian_access_at_adulthood() == 0  # idempotent
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert not Consent.objects.filter(link=link, revoked_at__isnull=True).exists()
    [told] = Notification.objects.filter(recipient=pat)
    assert told.kind == NotificationKind.GUARDIAN_ACCESS_ENDED
    assert "adult" in told.body and ava.username not in told.body and ava.username not in told.title
    assert told.deliveries.count() == 1  # the email too
    assert {"user": pat.pk, "type": "access.revoked", "reason": "consent_revoked"} in revocations()
    entries = AuditEntry.objects.filter(action="guardian_link.end_at_adulthood")
    assert [(e.target_id, e.actor_id) for e in entries] == [(str(link.pk), None)]


def test_a_consent_the_participant_gives_as_an_adult_keeps_the_link(pat: User, ava: User, turning_18: datetime) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    with time_machine.travel(turning_18, tick=False):
        give_consent(by=ava, link=link, scopes=[ConsentScope.SCHEDULE])
        assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
        assert end_guardian_access_at_adulthood() == 0
    with time_machine.travel(turning_18 + timedelta(days=400), tick=False):
        assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
    link.refresh_from_db()
    assert link.revoked_at is None


def test_a_consent_given_the_day_before_the_birthday_does_not_carry_over(
    pat: User, ava: User, turning_18: datetime
) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    with time_machine.travel(turning_18 - timedelta(days=1), tick=False):
        give_consent(by=ava, link=link, scopes=[ConsentScope.SCHEDULE, ConsentScope.HOURS])
    with time_machine.travel(turning_18, tick=False):
        assert not guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)
        assert end_guardian_access_at_adulthood() == 1


def test_beat_runs_the_task() -> None:
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "accounts.tasks.end_guardian_access_at_adulthood" in tasks


@pytest.mark.parametrize("scopes", [[], None, "schedule"])
def test_a_consent_that_shares_nothing_is_refused_at_the_api(
    client_for: Clients, ava: User, pat: User, db_snapshot: Callable[[], dict[str, int]], scopes: Any
) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    client = client_for(ava)
    before = db_snapshot()
    response = client.post("/api/v1/consents/", {"link": link.pk, "scopes": scopes}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid" and "scopes" in response.json()["error"]["fields"]
    assert db_snapshot() == before
    assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.SCHEDULE)  # the old consent stands


def test_a_consent_that_shares_nothing_is_refused_by_the_service(ava: User, pat: User) -> None:
    from django.core.exceptions import ValidationError

    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    with pytest.raises(ValidationError):
        give_consent(by=ava, link=link, scopes=[])
