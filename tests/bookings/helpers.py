"""Builders the booking tests share: a clinician's policy, windows, exceptions, busy time."""

from __future__ import annotations

from datetime import date, datetime, time

from accounts.models import User
from bookings.models import AvailabilityException, AvailabilityWindow, BookingPolicy, ExceptionKind
from sessions.models import Session, SessionKind
from tests.factories import SessionFactory


def clock(text: str) -> time:
    return time.fromisoformat(text)


def set_policy(clinician: User, **fields: object) -> BookingPolicy:
    fields.setdefault("time_zone", clinician.time_zone)
    policy, _ = BookingPolicy.objects.update_or_create(clinician=clinician, defaults=fields)
    return policy


def add_window(
    clinician: User,
    weekday: int,
    start: str,
    end: str,
    *,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> AvailabilityWindow:
    return AvailabilityWindow.objects.create(
        clinician=clinician,
        weekday=weekday,
        start_time=clock(start),
        end_time=clock(end),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def time_off(clinician: User, day: date, start: str | None = None, end: str | None = None) -> AvailabilityException:
    return AvailabilityException.objects.create(
        clinician=clinician,
        kind=ExceptionKind.TIME_OFF,
        date=day,
        start_time=clock(start) if start else None,
        end_time=clock(end) if end else None,
    )


def extra_hours(clinician: User, day: date, start: str, end: str) -> AvailabilityException:
    return AvailabilityException.objects.create(
        clinician=clinician, kind=ExceptionKind.EXTRA_HOURS, date=day, start_time=clock(start), end_time=clock(end)
    )


def hosted_session(
    hosts: list[User], starts_at: datetime, ends_at: datetime, *, kind: str = SessionKind.INDIVIDUAL, **extra: object
) -> Session:
    return SessionFactory.create(kind=kind, hosts=hosts, starts_at=starts_at, ends_at=ends_at, **extra)
