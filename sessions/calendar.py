"""iCalendar for sessions: the private feed and the .ics attached to session emails share
one event builder, so a calendar app sees the same UID and SEQUENCE from both. Event text
is PHI-free: "Group session", never a clinical title."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from sessions.models import Session, SessionKind

PHI_FREE_SUMMARY = {
    SessionKind.GROUP: "Group session",
    SessionKind.INDIVIDUAL: "Individual session",
    SessionKind.FAMILY: "Family session",
}
# No product or program name: it would tell the kind of care.
PRODID = "-//Sessions//Calendar//EN"


def session_path(session: Session) -> str:
    """The session's page in the web client: its room (sign-in first, then back to it)."""
    return reverse("web:room", kwargs={"session_id": session.pk})


def absolute_url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def last_changed_at(session: Session) -> datetime:
    return max(moment for moment in (session.created_at, session.moved_at, session.cancelled_at) if moment)


def event_sequence(session: Session) -> int:
    """RFC 5545 SEQUENCE: 0 as created; after a move or a cancellation, the whole seconds
    from creation to the latest of them. Every later change gives a larger number, with no
    counter column to keep (two changes within one second share a number)."""
    return int((last_changed_at(session) - session.created_at).total_seconds())


def session_event(session: Session) -> Event:
    event = Event()
    event.add("uid", f"session-{session.pk}@{settings.CALENDAR_UID_DOMAIN}")
    event.add("sequence", event_sequence(session))
    event.add("summary", PHI_FREE_SUMMARY[SessionKind(session.kind)])
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    event.add("dtstamp", last_changed_at(session))
    event.add("last-modified", last_changed_at(session))
    event.add("status", "CANCELLED" if session.cancelled_at else "CONFIRMED")
    event.add("url", absolute_url(session_path(session)))
    return event


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    return calendar


def render_feed(sessions: Iterable[Session]) -> bytes:
    calendar = _calendar()
    calendar.add("x-wr-calname", "Sessions")
    for session in sessions:
        calendar.add_component(session_event(session))
    return calendar.to_ical()


def render_email_event(session: Session) -> tuple[str, bytes]:
    """The iTIP method and the .ics of one session for an email: PUBLISH, or CANCEL once
    it is cancelled, so a calendar app that imported it updates or removes its copy."""
    method = "CANCEL" if session.cancelled_at else "PUBLISH"
    calendar = _calendar()
    calendar.add("method", method)
    calendar.add_component(session_event(session))
    return method, calendar.to_ical()
