"""A reminder's email: an absolute link the server serves, and the session's .ics with the
feed's UID and SEQUENCE (a moved session's SEQUENCE grows; a cancelled one's is METHOD:CANCEL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import Message
from typing import cast
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from icalendar import Calendar, Component

from accounts.models import User
from notifications import services
from notifications.kinds import NotificationKind
from notifications.models import Delivery, DeliveryStatus
from notifications.reminders import send_due_reminders
from sessions import services as sessions
from sessions.calendar import event_sequence, render_feed
from sessions.models import Session
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture
def start() -> datetime:
    return (timezone.now() + 3 * DAY).replace(minute=0, second=0, microsecond=0)


def _send_reminder_to(person: User, at: datetime) -> mail.EmailMessage:
    with time_machine.travel(at, tick=False):
        send_due_reminders()
        delivery = Delivery.objects.filter(notification__recipient=person).latest("id")
        assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    return mail.outbox[-1]


def _calendar_part(message: mail.EmailMessage) -> Message:
    (part,) = [part for part in message.attachments if isinstance(part, Message)]
    return part


def _event(message: mail.EmailMessage) -> tuple[Calendar, Component]:
    calendar = Calendar.from_ical(cast(bytes, _calendar_part(message).get_payload(decode=True)))
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_the_reminder_links_to_the_session_page_the_server_serves(start: datetime, dana: User, sam: User) -> None:
    session = SessionFactory.create(kind="individual", starts_at=start, hosts=[dana], roster=[sam])
    message = _send_reminder_to(sam, start - DAY)
    link = f"{settings.PUBLIC_BASE_URL}/sessions/{session.pk}/"
    assert link in message.body
    path = link.removeprefix(settings.PUBLIC_BASE_URL)
    # Signed out, the link asks for sign-in and comes back to the room; signed in, it is the room.
    browser = Client()
    signed_out = browser.get(path)
    assert signed_out.status_code == 302 and signed_out["Location"] == f"/signin/?next={quote(path)}"
    browser.force_login(sam)
    room = browser.get(path)
    assert room.status_code == 200 and room["Content-Type"].startswith("text/html")
    assert f'data-session-id="{session.pk}"' in room.content.decode()


def test_the_reminder_carries_the_sessions_ics_with_the_feeds_uid_and_sequence(
    start: datetime, dana: User, sam: User
) -> None:
    session = SessionFactory.create(kind="individual", starts_at=start, hosts=[dana], roster=[sam])
    message = _send_reminder_to(sam, start - DAY)
    part = _calendar_part(message)
    assert part.get_content_type() == "text/calendar" and part.get_param("method") == "PUBLISH"
    assert part.get_filename() == "session.ics"
    calendar, event = _event(message)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(event["uid"]) == f"session-{session.pk}@{settings.CALENDAR_UID_DOMAIN}"
    assert int(event.decoded("sequence")) == 0
    assert str(event["status"]) == "CONFIRMED" and event.decoded("dtstart") == start
    assert str(event["url"]) == f"{settings.PUBLIC_BASE_URL}/sessions/{session.pk}/"
    assert str(event["summary"]) == "Individual session"

    with time_machine.travel(start - 20 * HOUR, tick=False):
        sessions.move_session(by=dana, session=session, starts_at=start + HOUR, ends_at=start + 2 * HOUR)
    moved = _send_reminder_to(sam, start)  # the new start's 1 h reminder
    _, moved_event = _event(moved)
    assert str(moved_event["uid"]) == str(event["uid"]), "the same event, updated"
    assert int(moved_event.decoded("sequence")) > 0 and moved_event.decoded("dtstart") == start + HOUR
    # The feed shows the same event at the same revision.
    session.refresh_from_db()
    (feed_event,) = Calendar.from_ical(render_feed([session])).walk("VEVENT")
    assert str(feed_event["uid"]) == str(event["uid"])
    assert int(feed_event.decoded("sequence")) == int(moved_event.decoded("sequence")) == event_sequence(session)


def test_a_cancelled_sessions_email_cancels_the_event(start: datetime, dana: User, sam: User) -> None:
    session = SessionFactory.create(kind="individual", starts_at=start, hosts=[dana], roster=[sam])
    _send_reminder_to(sam, start - DAY)
    with time_machine.travel(start - 2 * HOUR, tick=False):
        sessions.cancel_session(by=dana, session=session)
        session.refresh_from_db()
        notification = services.notify(
            recipient=sam,
            kind=NotificationKind.SESSION_CANCELLED,
            data={"date": "2030-01-01", "time": "10:00", "link": f"/sessions/{session.pk}/"},
            session=session,
            dedupe_key="test-cancelled",
        )
        assert notification is not None
        delivery = Delivery.objects.get(notification=notification)
        assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    part = _calendar_part(mail.outbox[-1])
    assert part.get_param("method") == "CANCEL"
    calendar, event = _event(mail.outbox[-1])
    assert str(calendar["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert int(event.decoded("sequence")) == event_sequence(session) > 0


def test_kinds_not_about_a_session_have_no_attachment(sam: User) -> None:
    notification = services.notify(recipient=sam, kind="session_opening", data={"time": "17:00", "link": "/s/1"})
    assert notification is not None
    delivery = Delivery.objects.get(notification=notification)
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    assert mail.outbox[-1].attachments == []


def test_sequence_grows_with_each_change(start: datetime, dana: User) -> None:
    with time_machine.travel(start - 3 * DAY, tick=False):
        session = SessionFactory.create(kind="individual", starts_at=start, hosts=[dana])
    assert event_sequence(session) == 0
    sequences = []
    for minutes in (10, 20):
        with time_machine.travel(start - 2 * DAY + minutes * MINUTE, tick=False):
            sessions.move_session(by=dana, session=session, starts_at=start + minutes * MINUTE,
                                  ends_at=start + HOUR + minutes * MINUTE)  # fmt: skip
        sequences.append(event_sequence(session))
    with time_machine.travel(start - DAY, tick=False):
        sessions.cancel_session(by=dana, session=session)
    sequences.append(event_sequence(Session.objects.get(pk=session.pk)))
    assert 0 < sequences[0] < sequences[1] < sequences[2]
