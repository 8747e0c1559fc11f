"""Who sees which booking (the bookings API reads through this)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import ConsentScope, Role, User
from accounts.selectors import adolescents_visible_to_guardian
from bookings.models import Booking
from sessions.models import SessionFacilitator


def bookings_visible_to(user: User) -> QuerySet[Booking]:
    """Admins: all. Clinicians: the bookings they hold, host or made. Participants: their
    own. Guardians: their linked adolescents' while the consent in force shares the
    schedule (a guardian whose consent ended no longer sees even those they booked).
    Anyone else, or inactive: none."""
    bookings = Booking.objects.all()
    if not user.is_active:
        return bookings.none()
    if user.role == Role.ADMIN:
        return bookings
    if user.role == Role.CLINICIAN:
        hosts = SessionFacilitator.objects.filter(session=OuterRef("session"), clinician=user)
        return bookings.filter(Q(clinician=user) | Q(booked_by=user) | Q(Exists(hosts)))
    if user.role == Role.PARTICIPANT:
        return bookings.filter(participant=user)
    if user.role == Role.GUARDIAN:
        wards = adolescents_visible_to_guardian(guardian=user, scope=ConsentScope.SCHEDULE).values("pk")
        return bookings.filter(participant__in=wards)
    return bookings.none()
