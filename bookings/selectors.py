"""Reads about availability: whose availability a user may manage, whose slots they may
see, and a clinician's windows and exceptions."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from accounts.models import ConsentScope, Role, User
from accounts.selectors import adolescents_visible_to_guardian
from bookings.availability import NOT_YOURS
from bookings.models import AvailabilityException, AvailabilityWindow
from programs.models import Enrollment, EnrollmentStatus
from programs.selectors import treats

NO_SUCH_CLINICIAN = "No such clinician."


def managed_clinician(*, viewer: User, clinician_id: int) -> User:
    """The clinician whose availability ``viewer`` may read and change: their own (a
    clinician) or any clinician's (an admin). Anyone else gets 403 before any lookup, so
    the answer says nothing about the id; an admin gets 404 for an id that is no
    clinician. One query."""
    if not viewer.is_active or viewer.role not in (Role.CLINICIAN, Role.ADMIN):
        raise PermissionDenied(NOT_YOURS)
    if viewer.role == Role.CLINICIAN:
        if viewer.pk != clinician_id:
            raise PermissionDenied(NOT_YOURS)
        return viewer
    clinician = User.objects.filter(pk=clinician_id, role=Role.CLINICIAN).first()
    if clinician is None:
        raise NotFound(NO_SUCH_CLINICIAN)
    return clinician


def _treats_a_ward_of(*, guardian: User, clinician: User) -> bool:
    """The clinician treats (programs.selectors.treats) an adolescent linked to the
    guardian whose consent in force shares the schedule. One query."""
    wards = adolescents_visible_to_guardian(guardian=guardian, scope=ConsentScope.SCHEDULE)
    return (
        Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, participant__in=wards)
        .filter(Q(primary_clinician=clinician) | Q(program__clinicians=clinician))
        .exists()
    )


def may_see_slots(*, viewer: User, clinician: User) -> bool:
    """Staff see any active clinician's slots; a participant those of a clinician who
    treats them; a guardian those of a clinician who treats a ward whose consent shares
    the schedule. At most one query."""
    if not viewer.is_active or not clinician.is_active or clinician.role != Role.CLINICIAN:
        return False
    if viewer.role in (Role.CLINICIAN, Role.ADMIN):
        return True
    if viewer.role == Role.PARTICIPANT:
        return treats(clinician=clinician, participant=viewer)
    if viewer.role == Role.GUARDIAN:
        return _treats_a_ward_of(guardian=viewer, clinician=clinician)
    return False


def slots_clinician(*, viewer: User, clinician_id: int) -> User:
    """The clinician whose slots ``viewer`` asks for, or 404, the same for an id that is no
    clinician and for one the viewer may not see (which clinician treats someone is itself
    protected). At most two queries."""
    clinician = User.objects.filter(pk=clinician_id).first()
    if clinician is None or not may_see_slots(viewer=viewer, clinician=clinician):
        raise NotFound(NO_SUCH_CLINICIAN)
    return clinician


def windows_of(clinician: User) -> QuerySet[AvailabilityWindow]:
    return AvailabilityWindow.objects.filter(clinician=clinician).order_by("weekday", "start_time", "id")


def exceptions_of(clinician: User, *, first_day: date, last_day: date | None) -> QuerySet[AvailabilityException]:
    exceptions = AvailabilityException.objects.filter(clinician=clinician, date__gte=first_day)
    if last_day is not None:
        exceptions = exceptions.filter(date__lte=last_day)
    return exceptions.order_by("date", "start_time", "id")
