"""When a session opens, everyone on it gets one notification with a join link."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Consent, User
from notifications.models import Notification
from notifications.session_opening import notify_opened_sessions
from sessions.models import RosterEntry
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db


def test_opening_notifies_roster_and_hosts_once(dana: User, theo: User, ava: User) -> None:
    session = make_session(kind="individual", hosts=[dana, theo], roster=[ava], starts_in=timedelta(minutes=5))
    later = make_session(kind="individual", hosts=[dana], roster=[ava], starts_in=timedelta(hours=2))
    assert notify_opened_sessions() == 3
    assert notify_opened_sessions() == 0
    notes = Notification.objects.filter(kind="session_opening")
    assert {n.recipient.username for n in notes} == {"dana", "theo", "ava"}
    note = notes.get(recipient=ava)
    assert note.data["link"] == f"/sessions/{session.pk}/"
    local = session.starts_at.astimezone(ZoneInfo(ava.time_zone))
    assert note.title == f"Your session at {local:%H:%M} is open"
    assert session.title not in note.title + note.body
    assert not Notification.objects.filter(data__link=f"/sessions/{later.pk}/").exists()


def test_removed_people_and_cancelled_sessions_get_nothing(dana: User, ava: User, sam: User) -> None:
    session = make_session(kind="individual", hosts=[dana], roster=[ava, sam], starts_in=timedelta(minutes=5))
    RosterEntry.objects.filter(session=session, user=sam).update(removed_at=timezone.now())
    cancelled = make_session(kind="individual", hosts=[dana], roster=[ava], starts_in=timedelta(minutes=5))
    cancelled.cancelled_at = timezone.now()
    cancelled.save()
    notify_opened_sessions()
    assert not Notification.objects.filter(recipient=sam).exists()
    assert Notification.objects.filter(recipient=ava).count() == 1


def test_guardian_on_a_family_session_needs_consent(dana: User, ava: User, pat: User) -> None:
    other_guardian = UserFactory.create(guardian=True)
    make_session(
        kind="family", hosts=[dana], roster=[ava], guardians=[pat, other_guardian], starts_in=timedelta(minutes=5)
    )
    notify_opened_sessions()
    assert Notification.objects.filter(recipient=pat).count() == 1
    assert not Notification.objects.filter(recipient=other_guardian).exists()  # not linked, no consent


def test_guardian_without_consent_is_not_told(dana: User, ava: User, pat: User) -> None:
    Consent.objects.filter(link__guardian=pat).update(revoked_at=timezone.now())
    make_session(kind="family", hosts=[dana], roster=[ava], guardians=[pat], starts_in=timedelta(minutes=5))
    notify_opened_sessions()
    assert not Notification.objects.filter(recipient=pat).exists()
