"""Every write to scheduled sessions: recurring schedules and their expansion, single
sessions, cancelling and moving one occurrence, and calendar feeds."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User, validate_time_zone
from accounts.services import ensure_admin
from audit import services as audit
from groups.models import TherapyGroup
from notifications.session_cancelled import notify_cancelled_on_commit
from programs.selectors import treats
from programs.services import NO_SUCH_PARTICIPANT, refuse_person
from server.errors import Conflict
from server.realtime import close_session_sockets_on_commit
from sessions.booked_time import (
    flag_occurrence_over_bookings,
    lock_hosts,
    refuse_if_booked,
    refuse_schedule_over_bookings,
)
from sessions.models import (
    CalendarFeed,
    FacilitatorRole,
    RecurringSchedule,
    RosterEntry,
    Session,
    SessionFacilitator,
    SessionKind,
    SessionService,
    SessionStatus,
    default_service,
)
from sessions.occurrences import local_time_exists, local_to_utc, occurrences

SCHEDULE_HORIZON_DAYS = 28
MAX_SESSION_MINUTES = 8 * 60


# --- Local time (local_to_utc, local_time_exists: sessions.occurrences) ------------------


def _service_for(kind: str, service: str | None) -> str:
    """The service asked for, or the kind's default (group -> group therapy, ...)."""
    if service is None:
        return default_service(kind)
    if service not in SessionService.values:
        raise ValidationError({"service": f"Use one of: {', '.join(SessionService.values)}."})
    return service


def _check_time_zone(zone: str) -> None:
    try:
        validate_time_zone(zone)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from exc


# --- Who may manage what -----------------------------------------------------------------


def ensure_can_manage_sessions_of(*, user: User, facilitators: Iterable[User]) -> None:
    if user.is_active and user.role == Role.ADMIN:
        return
    if user.is_active and user.role == Role.CLINICIAN and any(person.pk == user.pk for person in facilitators):
        return
    raise PermissionDenied("Only program admins and the session's facilitators can do this.")


def group_facilitators(group: TherapyGroup) -> list[tuple[User, str]]:
    people: list[tuple[User, str]] = [(group.lead_facilitator, FacilitatorRole.LEAD)]
    people += [(person, FacilitatorRole.CO) for person in group.co_facilitators.all()]
    return people


def session_facilitators(session: Session) -> list[User]:
    return [row.clinician for row in session.facilitators.select_related("clinician")]


# --- Recurring schedules -----------------------------------------------------------------


def _schedule_people(schedule: RecurringSchedule) -> list[User]:
    if schedule.group is not None:
        return [person for person, _ in group_facilitators(schedule.group)]
    assert schedule.clinician is not None
    return [schedule.clinician]


def _minutes_of_day(clock: time) -> int:
    return clock.hour * 60 + clock.minute


def _schedules_overlap(a: RecurringSchedule, b: RecurringSchedule) -> bool:
    if not set(a.weekdays) & set(b.weekdays):
        return False
    a_end = a.ends_on or date.max
    b_end = b.ends_on or date.max
    if a.starts_on > b_end or b.starts_on > a_end:
        return False
    # Compare as instants on a shared weekday so schedules in different zones compare right.
    day = max(a.starts_on, b.starts_on)
    while day.isoweekday() not in set(a.weekdays) & set(b.weekdays):
        day += timedelta(days=1)
    a_start = local_to_utc(day, a.start_time, a.time_zone)
    b_start = local_to_utc(day, b.start_time, b.time_zone)
    return a_start < b_start + timedelta(minutes=b.duration_minutes) and b_start < a_start + timedelta(
        minutes=a.duration_minutes
    )


def _check_no_facilitator_overlap(schedule: RecurringSchedule, people: Sequence[User]) -> None:
    ids = [person.pk for person in people]
    # Lock the people so two overlapping schedules (or a schedule and a booking) cannot be
    # created side by side.
    lock_hosts(people)
    candidates = RecurringSchedule.objects.filter(cancelled_at__isnull=True).select_related(
        "group__lead_facilitator", "clinician"
    )
    for other in candidates:
        if other.pk == schedule.pk:
            continue
        other_ids = {person.pk for person in _schedule_people(other)}
        shared = other_ids & set(ids)
        if shared and _schedules_overlap(schedule, other):
            raise Conflict(
                f"A facilitator of this schedule already runs schedule #{other.pk} at an overlapping time.",
                code="schedule_overlap",
            )


def create_schedule(
    *,
    by: User,
    kind: str,
    title: str,
    weekdays: Sequence[int],
    start_time: time,
    duration_minutes: int,
    starts_on: date,
    ends_on: date | None = None,
    group: TherapyGroup | None = None,
    participant: User | None = None,
    clinician: User | None = None,
    time_zone: str | None = None,
    service: str | None = None,
) -> RecurringSchedule:
    """``service``: what its sessions deliver (SessionService); by default the kind's."""
    ensure_admin(by)
    days = sorted(set(weekdays))
    if not days or any(day < 1 or day > 7 for day in days):
        raise ValidationError({"weekdays": "Give one or more ISO weekdays, 1 (Monday) to 7 (Sunday)."})
    if not 15 <= duration_minutes <= MAX_SESSION_MINUTES:
        raise ValidationError({"duration_minutes": "A session lasts 15 minutes to 8 hours."})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": "The schedule cannot end before it starts."})
    if kind == SessionKind.GROUP:
        if group is None:
            raise ValidationError({"group": "A group schedule needs a group."})
        zone = time_zone or group.program.time_zone
    elif kind == SessionKind.INDIVIDUAL:
        if participant is None or participant.role != Role.PARTICIPANT:
            raise ValidationError({"participant": "An individual schedule needs one participant."})
        if clinician is None or clinician.role != Role.CLINICIAN:
            raise ValidationError({"clinician": "An individual schedule needs a clinician."})
        zone = time_zone or participant.time_zone
    else:
        raise ValidationError({"kind": "Schedules are for group or individual sessions."})
    _check_time_zone(zone)
    schedule = RecurringSchedule(
        kind=kind,
        service=_service_for(kind, service),
        title=title,
        group=group if kind == SessionKind.GROUP else None,
        participant=participant if kind == SessionKind.INDIVIDUAL else None,
        clinician=clinician if kind == SessionKind.INDIVIDUAL else None,
        weekdays=days,
        start_time=start_time.replace(second=0, microsecond=0),
        duration_minutes=duration_minutes,
        time_zone=zone,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=by,
    )
    with transaction.atomic():
        people = _schedule_people(schedule)
        _check_no_facilitator_overlap(schedule, people)
        refuse_schedule_over_bookings(schedule=schedule, hosts=people, now=timezone.now())
        schedule.save()
        audit.record(
            actor=by, action="schedule.create", target=schedule, data={"kind": kind, "service": schedule.service}
        )
    return schedule


def cancel_schedule(*, by: User, schedule: RecurringSchedule) -> RecurringSchedule:
    """Stops future occurrences; sessions already generated and not started are cancelled."""
    ensure_admin(by)
    if schedule.cancelled_at is not None:
        raise Conflict("This schedule is already cancelled.", code="schedule_cancelled")
    now = timezone.now()
    with transaction.atomic():
        schedule.cancelled_at = now
        schedule.save(update_fields=["cancelled_at"])
        not_started = schedule.sessions.filter(starts_at__gt=now, cancelled_at__isnull=True)
        # One in its opening lead time is open already: its room closes, as cancel_session's.
        for session in not_started.filter(ended_at__isnull=True):
            if session.status_at(now) == SessionStatus.OPEN:
                close_session_sockets_on_commit(session.pk, reason="session_cancelled")
        cancelled = list(not_started.values_list("pk", flat=True))
        not_started.update(cancelled_at=now)
        audit.record(actor=by, action="schedule.cancel", target=schedule)
        notify_cancelled_on_commit(session_ids=cancelled, by=by)
    return schedule


def _roster_for(schedule: RecurringSchedule) -> list[User]:
    if schedule.group is not None:
        return [
            m.participant for m in schedule.group.memberships.filter(left_at__isnull=True).select_related("participant")
        ]
    assert schedule.participant is not None
    return [schedule.participant]


def _facilitator_rows(schedule: RecurringSchedule) -> list[tuple[User, str]]:
    if schedule.group is not None:
        return group_facilitators(schedule.group)
    assert schedule.clinician is not None
    return [(schedule.clinician, FacilitatorRole.LEAD)]


def _create_session_with_people(
    *, session: Session, facilitators: list[tuple[User, str]], roster: list[User]
) -> Session:
    session.save()
    SessionFacilitator.objects.bulk_create(
        [SessionFacilitator(session=session, clinician=person, role=role) for person, role in facilitators]
    )
    RosterEntry.objects.bulk_create([RosterEntry(session=session, user=person) for person in roster])
    return session


def _people_now(schedule: RecurringSchedule) -> tuple[list[tuple[User, str]], list[User]]:
    """Hosts and roster for a new occurrence, read under the group's lock (inside the
    caller's transaction): a change of the group's people (groups.services) either commits
    first and is read here, or waits and then reaches the new session like the others.
    Read once per schedule, a member removed meanwhile stayed on the sessions made after."""
    if schedule.group_id is not None:
        group = TherapyGroup.objects.select_for_update().select_related("lead_facilitator").get(pk=schedule.group_id)
        members = group.memberships.filter(left_at__isnull=True).select_related("participant")
        return group_facilitators(group), [membership.participant for membership in members]
    return _facilitator_rows(schedule), _roster_for(schedule)


def generate_occurrences(*, schedule: RecurringSchedule, first_day: date, last_day: date) -> int:
    """Create the Session rows of the schedule's occurrences on local dates in
    [first_day, last_day]. Idempotent: an occurrence that exists (even moved or cancelled)
    is left alone. Returns how many were created.

    An occurrence is created even if it overlaps a live booking of a host: booking refuses
    time a schedule will fill and a schedule may not be made over a booking, so only data
    from before those checks (or a host added to a group later) gets here, and the group's
    session is the program's commitment to all its members. It is audited
    (session.overlaps_booking) and logged, by ids, for an admin to resolve."""
    if schedule.cancelled_at is not None:
        return 0
    start = max(first_day, schedule.starts_on)
    end = min(last_day, schedule.ends_on or last_day)
    existing = set(
        schedule.sessions.filter(occurrence_date__range=(start, end)).values_list("occurrence_date", flat=True)
    )
    created = 0
    for occurrence in occurrences(schedule, start, end):
        if occurrence.day in existing:
            continue
        with transaction.atomic():
            # The lock makes two concurrent generators agree on who creates the row.
            locked = RecurringSchedule.objects.select_for_update().get(pk=schedule.pk)
            if not locked.sessions.filter(occurrence_date=occurrence.day).exists():
                facilitators, roster = _people_now(schedule)
                session = _create_session_with_people(
                    session=Session(
                        kind=schedule.kind,
                        service=schedule.service,
                        title=schedule.title,
                        group=schedule.group,
                        schedule=schedule,
                        occurrence_date=occurrence.day,
                        starts_at=occurrence.starts_at,
                        ends_at=occurrence.ends_at,
                    ),
                    facilitators=facilitators,
                    roster=roster,
                )
                flag_occurrence_over_bookings(session=session, hosts=[person for person, _ in facilitators])
                created += 1
    return created


def generate_upcoming_sessions(*, horizon_days: int = SCHEDULE_HORIZON_DAYS, now: datetime | None = None) -> int:
    """Expand every active schedule over the rolling horizon (the beat task's work)."""
    now = now or timezone.now()
    created = 0
    schedules = RecurringSchedule.objects.filter(cancelled_at__isnull=True).select_related(
        "group__program", "group__lead_facilitator", "participant", "clinician"
    )
    for schedule in schedules:
        today = now.astimezone(ZoneInfo(schedule.time_zone)).date()
        created += generate_occurrences(
            schedule=schedule, first_day=today, last_day=today + timedelta(days=horizon_days - 1)
        )
    return created


# --- Single sessions ---------------------------------------------------------------------


@dataclass(frozen=True)
class LocalStart:
    day: date
    clock: time
    time_zone: str


def _resolve_start(starts_at: datetime | None, local: LocalStart | None) -> datetime:
    if (starts_at is None) == (local is None):
        raise ValidationError({"starts_at": "Give either starts_at (with offset) or a local date, time and zone."})
    if starts_at is not None:
        if timezone.is_naive(starts_at):
            raise ValidationError({"starts_at": "Give the time with its UTC offset."})
        return starts_at
    assert local is not None
    _check_time_zone(local.time_zone)
    if not local_time_exists(local.day, local.clock, local.time_zone):
        raise ValidationError(
            {"local_time": f"{local.clock:%H:%M} does not exist on {local.day} in {local.time_zone} (clocks skip it)."}
        )
    return local_to_utc(local.day, local.clock, local.time_zone)


def _check_duration(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "A session must end after it starts."})
    if ends_at - starts_at > timedelta(minutes=MAX_SESSION_MINUTES):
        raise ValidationError({"ends_at": "A session lasts at most 8 hours."})


def create_single_session(
    *,
    by: User,
    kind: str,
    title: str,
    ends_at: datetime | None = None,
    duration_minutes: int | None = None,
    starts_at: datetime | None = None,
    local_start: LocalStart | None = None,
    group: TherapyGroup | None = None,
    participant: User | None = None,
    clinician: User | None = None,
    admit_directly: bool = False,
    service: str | None = None,
) -> Session:
    """``service``: what the session delivers (SessionService); by default the kind's."""
    start = _resolve_start(starts_at, local_start)
    if ends_at is None:
        if duration_minutes is None:
            raise ValidationError({"ends_at": "Give ends_at or duration_minutes."})
        ends_at = start + timedelta(minutes=duration_minutes)
    _check_duration(start, ends_at)
    if kind == SessionKind.GROUP:
        if group is None:
            raise ValidationError({"group": "A group session needs a group."})
        facilitators = group_facilitators(group)
        roster = [m.participant for m in group.memberships.filter(left_at__isnull=True).select_related("participant")]
    elif kind == SessionKind.INDIVIDUAL:
        if participant is None:
            raise ValidationError({"participant": "An individual session needs one participant."})
        if participant.role != Role.PARTICIPANT:
            reason = "Only participants are on an individual session's roster."
            refuse_person(by=by, field="participant", reason=reason, uniform=NO_SUCH_PARTICIPANT)
        if clinician is None or clinician.role != Role.CLINICIAN:
            raise ValidationError({"clinician": "An individual session needs a clinician."})
        facilitators = [(clinician, FacilitatorRole.LEAD)]
        roster = [participant]
    else:
        raise ValidationError({"kind": "Family sessions are booked through bookings."})
    service = _service_for(kind, service)
    ensure_can_manage_sessions_of(user=by, facilitators=[person for person, _ in facilitators])
    if kind == SessionKind.INDIVIDUAL and by.role != Role.ADMIN and not treats(clinician=by, participant=roster[0]):
        # Else any clinician could put any participant on a session of theirs, and see it.
        raise ValidationError({"participant": NO_SUCH_PARTICIPANT})
    with transaction.atomic():
        hosts = [person for person, _ in facilitators]
        lock_hosts(hosts)
        refuse_if_booked(hosts=hosts, starts_at=start, ends_at=ends_at)
        session = _create_session_with_people(
            session=Session(
                kind=kind,
                service=service,
                title=title,
                group=group if kind == SessionKind.GROUP else None,
                starts_at=start,
                ends_at=ends_at,
                admit_directly=admit_directly,
            ),
            facilitators=facilitators,
            roster=roster,
        )
        audit.record(actor=by, action="session.create", target=session, data={"kind": kind, "service": service})
    return session


def cancel_session(*, by: User, session: Session) -> Session:
    """Cancels one occurrence; the schedule and its other occurrences are untouched."""
    ensure_can_manage_sessions_of(user=by, facilitators=session_facilitators(session))
    return mark_session_cancelled(by=by, session=session)


def mark_session_cancelled(*, by: User, session: Session) -> Session:
    """cancel_session's write, for callers that decided who may cancel their own way
    (bookings.services: the family who booked). A booked family session's booking is
    cancelled with it, so its slot is free again. Its people hear after commit."""
    from bookings.models import Booking  # bookings builds on sessions, not the reverse

    with transaction.atomic():
        # Locked and read again, so two cancellations at once cancel (and notify) once.
        session = Session.objects.select_for_update().get(pk=session.pk)
        status = session.status
        if status in (SessionStatus.CANCELLED, SessionStatus.ENDED):
            raise Conflict(f"This session is already {status}.", code=f"session_{status}")
        session.cancelled_at = timezone.now()
        session.save(update_fields=["cancelled_at"])
        if session.kind == SessionKind.FAMILY:
            Booking.objects.filter(session=session, cancelled_at__isnull=True).update(
                cancelled_at=session.cancelled_at, cancelled_by=by
            )
        audit.record(actor=by, action="session.cancel", target=session)
        # Whoever is in the room, hosts included; a session not yet open has nobody, and
        # one publish is cheaper than asking.
        close_session_sockets_on_commit(session.pk, reason="session_cancelled")
        notify_cancelled_on_commit(session_ids=[session.pk], by=by)
    return session


def move_session(*, by: User, session: Session, starts_at: datetime, ends_at: datetime) -> Session:
    """Moves one occurrence; it keeps its occurrence date, so regeneration leaves it moved."""
    hosts = session_facilitators(session)
    ensure_can_manage_sessions_of(user=by, facilitators=hosts)
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict("Only a session that has not opened can be moved.", code="session_not_scheduled")
    if session.kind == SessionKind.FAMILY and hasattr(session, "booking"):
        # Its booking holds the clinician's time too: rescheduling moves both, checked.
        raise Conflict("A booked family session is moved by rescheduling its booking.", code="booking_reschedule")
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationError({"starts_at": "Give times with their UTC offset."})
    _check_duration(starts_at, ends_at)
    with transaction.atomic():
        lock_hosts(hosts)
        refuse_if_booked(hosts=hosts, starts_at=starts_at, ends_at=ends_at, session_id=session.pk)
        session.starts_at = starts_at
        session.ends_at = ends_at
        session.moved_at = timezone.now()
        session.save(update_fields=["starts_at", "ends_at", "moved_at"])
        audit.record(actor=by, action="session.move", target=session)
    return session


# --- Calendar feeds ----------------------------------------------------------------------


def calendar_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_calendar_feed(*, user: User) -> str:
    """A new private feed token; any previous feed URL stops working."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        feed = CalendarFeed.objects.create(user=user, token_digest=calendar_token_digest(token))
        audit.record(actor=user, action="calendar_feed.create", target=feed)
    return token


def revoke_calendar_feed(*, user: User) -> int:
    with transaction.atomic():
        revoked = CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit.record(actor=user, action="calendar_feed.revoke", target=user)
    return revoked
