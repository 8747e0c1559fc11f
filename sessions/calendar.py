"""The iCal feed. Event text is PHI-free: "Group session", never a clinical title."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from icalendar import Calendar, Event

from sessions.models import Session, SessionKind

PHI_FREE_SUMMARY = {
    SessionKind.GROUP: "Group session",
    SessionKind.INDIVIDUAL: "Individual session",
    SessionKind.FAMILY: "Family session",
}


def render_feed(sessions: Iterable[Session]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Virtual IOP//Sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Sessions")
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.pk}@{settings.CALENDAR_UID_DOMAIN}")
        event.add("summary", PHI_FREE_SUMMARY[SessionKind(session.kind)])
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("dtstamp", session.created_at)
        event.add("status", "CANCELLED" if session.cancelled_at else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
