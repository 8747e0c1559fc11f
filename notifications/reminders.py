"""Session reminders: before each session a person is on (roster, not removed, and hosts),
one reminder per offset in settings.SESSION_REMINDER_OFFSETS_MINUTES (24 h and 1 h by
default), of those the person keeps in their preferences.

A beat task sweeps every minute; nothing is queued hours ahead (a task ETA beyond the
broker's visibility timeout would be redelivered, and would not follow a moved session).
A reminder is due from ``starts_at - offset`` for SESSION_REMINDER_LATE_MINUTES, and never
once the session has started: one that came due longer ago (workers down, or a session
created or moved after that moment, e.g. booked 2 h ahead gets no "24 h" reminder) is
skipped. Each is claimed by a row keyed (session, person, offset, starts_at) inserted with
ON CONFLICT DO NOTHING in the transaction that stores the notification: concurrent,
repeated or redelivered sweeps send it once, a worker killed before the commit leaves it
to the next sweep, and a moved session's reminders have new keys while its old ones are
never due again (the sweep reads the session's current start). The email is checked
again when it goes out (notifications/reminder_checks.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import ConsentScope, Role, User
from accounts.selectors import guardian_may_see
from notifications.kinds import NotificationKind
from notifications.models import NotificationSettings, SessionReminder
from notifications.reminder_checks import is_on_session, session_refusal
from notifications.services import notify
from sessions.calendar import session_path
from sessions.models import RosterEntry, RosterRole, Session, SessionFacilitator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueReminder:
    session: Session
    person: User
    offset_minutes: int
    # The adolescent a guardian recipient is reminded about (their consent is checked).
    about: User | None


def _due_sessions(offset_minutes: int, now: datetime) -> list[Session]:
    lead = timedelta(minutes=offset_minutes)
    late = timedelta(minutes=settings.SESSION_REMINDER_LATE_MINUTES)
    return list(
        Session.objects.filter(
            cancelled_at__isnull=True,
            ended_at__isnull=True,
            starts_at__lte=now + lead,
            starts_at__gt=max(now, now + lead - late),
        ).prefetch_related(
            Prefetch(
                "roster",
                queryset=RosterEntry.objects.filter(removed_at__isnull=True, user__is_active=True).select_related(
                    "user"
                ),
            ),
            Prefetch(
                "facilitators",
                queryset=SessionFacilitator.objects.filter(clinician__is_active=True).select_related("clinician"),
            ),
        )
    )


def _about(person: User, participants: list[User]) -> User | None:
    if person.role != Role.GUARDIAN:
        return None
    for participant in participants:
        if participant.is_adolescent and guardian_may_see(
            guardian=person, adolescent=participant, scope=ConsentScope.SCHEDULE
        ):
            return participant
    return None


def due_reminders(now: datetime) -> list[DueReminder]:
    """The reminders due now and not yet sent, for people who want them."""
    candidates: list[DueReminder] = []
    for offset in settings.SESSION_REMINDER_OFFSETS_MINUTES:
        sessions = _due_sessions(offset, now)
        sent = set(
            SessionReminder.objects.filter(session__in=sessions, offset_minutes=offset).values_list(
                "session_id", "user_id", "starts_at"
            )
        )
        for session in sessions:
            participants = [entry.user for entry in session.roster.all() if entry.role == RosterRole.PARTICIPANT]
            people = {entry.user.pk: entry.user for entry in session.roster.all()}
            people.update({row.clinician.pk: row.clinician for row in session.facilitators.all()})
            for person in people.values():
                if (session.pk, person.pk, session.starts_at) not in sent:
                    candidates.append(DueReminder(session, person, offset, _about(person, participants)))
    wanted = dict(
        NotificationSettings.objects.filter(
            user__in={due.person.pk for due in candidates}, reminder_offsets_minutes__isnull=False
        ).values_list("user_id", "reminder_offsets_minutes")
    )
    return [
        due for due in candidates if due.person.pk not in wanted or due.offset_minutes in (wanted[due.person.pk] or [])
    ]


def _claim(due: DueReminder, now: datetime) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SessionReminder._meta.db_table} "  # noqa: S608 - the model's own table name
            "(session_id, user_id, offset_minutes, starts_at, claimed_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (session_id, user_id, offset_minutes, starts_at) DO NOTHING RETURNING id",
            [due.session.pk, due.person.pk, due.offset_minutes, due.session.starts_at, now],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def send_reminder(due: DueReminder, *, now: datetime) -> bool:
    """Claim and send one reminder; False when it was already sent or is no longer due."""
    session, person = due.session, due.person
    with transaction.atomic():
        # Serializes with a move or cancellation of the session: either it commits first
        # and this reads the new row, or it waits for this reminder to be stored.
        current = Session.objects.select_for_update(no_key=True).filter(pk=session.pk).first()
        if session_refusal(current, starts_at=session.starts_at, now=now) is not None:
            return False
        if not is_on_session(session_id=session.pk, user_id=person.pk):
            return False
        claim_id = _claim(due, now)
        if claim_id is None:
            return False  # another sweep sent it
        local = session.starts_at.astimezone(ZoneInfo(person.time_zone))
        start_key = int(session.starts_at.timestamp())
        notification = notify(
            recipient=person,
            kind=NotificationKind.SESSION_REMINDER,
            data={"time": f"{local:%H:%M}", "date": f"{local:%Y-%m-%d}", "link": session_path(session)},
            about=due.about,
            dedupe_key=f"session_reminder:{session.pk}:{person.pk}:{due.offset_minutes}:{start_key}",
            session=session,
        )
        if notification is None:
            # Not allowed now (a guardian without consent): no claim, so a consent given
            # while the reminder is still due is honoured by a later sweep.
            transaction.set_rollback(True)
            return False
        SessionReminder.objects.filter(pk=claim_id).update(notification=notification)
    return True


def send_due_reminders(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    for due in due_reminders(now):
        sent += send_reminder(due, now=now)
    if sent:
        logger.info("Sent %s session reminders", sent)
    return sent
