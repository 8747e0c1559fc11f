"""Session reminders (issue 22, item 5): 24 h and 1 h before, once each, for everyone on
the session who wants them; none for a cancelled session or a moved session's old time;
none that came due too long ago. The sweep runs in-process here under time-machine; the
real-worker runs are in test_reminder_worker.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts import services as accounts
from accounts.models import Consent, User
from notifications import services
from notifications.kinds import NotificationKind
from notifications.models import Delivery, DeliveryStatus, Notification, SessionReminder
from notifications.reminders import send_due_reminders
from sessions import services as sessions
from sessions.models import RosterEntry, Session
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture
def start() -> datetime:
    """A session start three days ahead, on the hour."""
    return (timezone.now() + 3 * DAY).replace(minute=0, second=0, microsecond=0)


def _session(start: datetime, *, hosts: list[User], roster: list[User] | None = None, **extra: object) -> Session:
    return SessionFactory.create(
        kind=extra.pop("kind", "individual"), starts_at=start, hosts=hosts, roster=roster or [], **extra
    )


def _sweep_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return send_due_reminders()


def _reminded(session: Session) -> set[tuple[str, int]]:
    return set(SessionReminder.objects.filter(session=session).values_list("user__username", "offset_minutes"))


@pytest.fixture
def reminder_settings() -> Iterator[None]:
    assert settings.SESSION_REMINDER_OFFSETS_MINUTES == [1440, 60]
    assert settings.SESSION_REMINDER_LATE_MINUTES == 30
    yield


def test_reminders_fire_once_at_24_h_and_1_h(
    reminder_settings: None, start: datetime, dana: User, sam: User, ava: User
) -> None:
    session = _session(start, hosts=[dana], roster=[sam, ava])
    assert _sweep_at(start - DAY - MINUTE) == 0
    assert _sweep_at(start - DAY) == 3
    assert _sweep_at(start - DAY) == 0, "a repeated sweep sends nothing"
    assert _sweep_at(start - DAY + 10 * MINUTE) == 0
    assert _sweep_at(start - HOUR - MINUTE) == 0
    assert _sweep_at(start - HOUR) == 3
    assert _sweep_at(start - HOUR + 5 * MINUTE) == 0
    assert _sweep_at(start - MINUTE) == 0
    assert _reminded(session) == {(name, offset) for name in ("dana", "sam", "ava") for offset in (1440, 60)}
    note = Notification.objects.get(recipient=sam, session_reminder__offset_minutes=60)
    local = start.astimezone(ZoneInfo(sam.time_zone))
    assert note.kind == NotificationKind.SESSION_REMINDER and note.session == session
    assert note.data == {
        "time": f"{local:%H:%M}",
        "date": f"{local:%Y-%m-%d}",
        "link": f"/sessions/{session.pk}/",
    }
    assert note.title == f"Session at {local:%H:%M} on {local:%Y-%m-%d}"
    assert session.title not in note.title + note.body
    assert Delivery.objects.filter(notification__kind=NotificationKind.SESSION_REMINDER).count() == 6


def test_a_reminder_due_too_long_ago_is_skipped(
    reminder_settings: None, start: datetime, dana: User, sam: User
) -> None:
    late = _session(start, hosts=[dana], roster=[sam])
    assert _sweep_at(start - DAY + 31 * MINUTE) == 0, "31 minutes late: past the limit"
    just_in_time = _session(start + HOUR, hosts=[dana])
    assert _sweep_at(start + HOUR - DAY + 29 * MINUTE) == 1
    with time_machine.travel(start - 2 * HOUR, tick=False):
        booked_late = _session(start, hosts=[UserFactory.create()], roster=[UserFactory.create(adult=True)])
    assert _sweep_at(start - 2 * HOUR) == 0, "created 2 h before: no '24 h' reminder"
    assert _sweep_at(start - HOUR) == 4  # dana and sam on `late`, both on `booked_late`
    assert _reminded(late) == {("dana", 60), ("sam", 60)}
    assert _reminded(just_in_time) == {("dana", 1440)}
    assert {offset for _, offset in _reminded(booked_late)} == {60}


def test_a_moved_sessions_old_reminders_never_fire_and_its_new_ones_do(
    reminder_settings: None, start: datetime, dana: User, sam: User
) -> None:
    session = _session(start, hosts=[dana], roster=[sam])
    assert _sweep_at(start - DAY) == 2
    old_email = Delivery.objects.get(notification__recipient=sam)
    with time_machine.travel(start - DAY + 5 * MINUTE, tick=False):
        sessions.move_session(by=dana, session=session, starts_at=start + 3 * HOUR, ends_at=start + 4 * HOUR)
    # The 24 h reminder still queued (e.g. held for quiet hours) is not sent at the old time.
    with time_machine.travel(start - DAY + 6 * MINUTE, tick=False):
        assert services.deliver_email(delivery_id=old_email.pk) == DeliveryStatus.SUPPRESSED
    old_email.refresh_from_db()
    assert old_email.last_error == "session_moved"
    assert _sweep_at(start + 3 * HOUR - DAY) == 2, "the new start's 24 h reminder"
    assert _sweep_at(start - HOUR) == 0, "the old start's 1 h reminder never fires"
    assert _sweep_at(start + 2 * HOUR) == 2, "the new start's 1 h reminder"
    starts = set(SessionReminder.objects.filter(user=sam).values_list("starts_at", "offset_minutes"))
    assert starts == {(start, 1440), (start + 3 * HOUR, 1440), (start + 3 * HOUR, 60)}
    new_email = Delivery.objects.get(
        notification__recipient=sam,
        notification__session_reminder__starts_at=start + 3 * HOUR,
        notification__session_reminder__offset_minutes=60,
    )
    with time_machine.travel(start + 2 * HOUR + MINUTE, tick=False):
        assert services.deliver_email(delivery_id=new_email.pk) == DeliveryStatus.SENT


def test_a_cancelled_session_gets_no_reminder_and_its_queued_one_is_not_sent(
    reminder_settings: None, start: datetime, dana: User, sam: User
) -> None:
    session = _session(start, hosts=[dana], roster=[sam])
    assert _sweep_at(start - DAY) == 2
    queued = Delivery.objects.get(notification__recipient=sam)
    with time_machine.travel(start - 2 * HOUR, tick=False):
        sessions.cancel_session(by=dana, session=session)
        assert services.deliver_email(delivery_id=queued.pk) == DeliveryStatus.SUPPRESSED
    queued.refresh_from_db()
    assert queued.last_error == "session_cancelled"
    assert _sweep_at(start - HOUR) == 0
    assert _reminded(session) == {("dana", 1440), ("sam", 1440)}


def test_only_people_on_the_session_now_are_reminded(
    reminder_settings: None, start: datetime, dana: User, theo: User, ava: User, pat: User, ada: User
) -> None:
    removed, deactivated = UserFactory.create(adult=True), UserFactory.create(adult=True)
    session = _session(start, kind="family", hosts=[dana, theo], roster=[ava, removed, deactivated], guardians=[pat])
    RosterEntry.objects.filter(session=session, user=removed).update(removed_at=timezone.now())
    accounts.deactivate_user(by=ada, user=deactivated)
    ended = _session(start, hosts=[UserFactory.create()], roster=[UserFactory.create(adult=True)])
    Session.objects.filter(pk=ended.pk).update(ended_at=timezone.now())
    assert _sweep_at(start - DAY) == 4
    assert _reminded(session) == {("dana", 1440), ("theo", 1440), ("ava", 1440), ("pat", 1440)}
    assert Notification.objects.get(recipient=pat).about == ava, "a guardian hears under ava's consent"
    assert not SessionReminder.objects.filter(session=ended).exists()
    # The guardian's consent ends: no further reminder (and a queued one is not sent).
    queued = Delivery.objects.get(notification__recipient=pat)
    accounts.revoke_consent(by=ava, consent=Consent.objects.get(link__guardian=pat, revoked_at__isnull=True))
    assert _sweep_at(start - HOUR) == 3
    assert ("pat", 60) not in _reminded(session)
    with time_machine.travel(start - HOUR, tick=False):
        assert services.deliver_email(delivery_id=queued.pk) == DeliveryStatus.SUPPRESSED
    queued.refresh_from_db()
    assert queued.last_error == "no_consent"


def test_a_person_taken_off_the_roster_after_the_sweep_gets_no_email(
    reminder_settings: None, start: datetime, dana: User, sam: User
) -> None:
    session = _session(start, hosts=[dana], roster=[sam])
    assert _sweep_at(start - DAY) == 2
    RosterEntry.objects.filter(session=session, user=sam).update(removed_at=timezone.now())
    queued = Delivery.objects.get(notification__recipient=sam)
    with time_machine.travel(start - DAY + MINUTE, tick=False):
        assert services.deliver_email(delivery_id=queued.pk) == DeliveryStatus.SUPPRESSED
    queued.refresh_from_db()
    assert queued.last_error == "not_on_session"


def test_an_email_held_past_the_start_is_not_sent(reminder_settings: None, start: datetime, dana: User) -> None:
    _session(start, hosts=[dana])
    assert _sweep_at(start - HOUR) == 1
    queued = Delivery.objects.get(notification__recipient=dana)
    with time_machine.travel(start + MINUTE, tick=False):
        assert services.deliver_email(delivery_id=queued.pk) == DeliveryStatus.SUPPRESSED
    queued.refresh_from_db()
    assert queued.last_error == "session_started"


def test_preferences_choose_the_reminders_and_their_channel(
    reminder_settings: None, start: datetime, dana: User, sam: User, ava: User
) -> None:
    services.set_preferences(user=sam, reminder_offsets=[60])
    services.set_preferences(user=ava, reminder_offsets=[])
    services.set_preferences(user=dana, email_by_kind={NotificationKind.SESSION_REMINDER: False})
    session = _session(start, hosts=[dana], roster=[sam, ava])
    assert _sweep_at(start - DAY) == 1
    assert _sweep_at(start - HOUR) == 2
    assert _reminded(session) == {("dana", 1440), ("dana", 60), ("sam", 60)}
    assert not Delivery.objects.filter(notification__recipient=dana).exists(), "dana: in-app only"
    assert Delivery.objects.filter(notification__recipient=sam).count() == 1
    services.set_preferences(user=ava, reminder_offsets=None)
    later = _session(start + DAY, hosts=[dana], roster=[ava])
    assert _sweep_at(start) == 2
    assert _reminded(later) == {("dana", 1440), ("ava", 1440)}
