"""Names the web client shows: who is in a program (for its clinicians and admins) and
who treats a participant (for the participant, their clinicians, admins and a guardian
whose ward's consent shares the schedule, so that they can pick a clinician to book a
family session with). Minimum necessary: ids and names, nothing clinical."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Role, User
from programs.models import Enrollment, EnrollmentStatus, Program


def program_participants(program: Program) -> QuerySet[User]:
    """Everyone with an enrollment in the program, ended ones included (a past week's
    hours and attendance name them too), by name. One query."""
    enrolled = Enrollment.objects.filter(program=program, participant=OuterRef("pk"))
    return User.objects.filter(Exists(enrolled)).order_by("first_name", "last_name", "id")


def clinicians_treating(participant: User) -> list[tuple[User, bool]]:
    """The active clinicians who treat the participant (programs.selectors.treats: the
    primary clinician of an active enrollment, or a clinician of its program), each with
    whether they are the primary one; the primary first, then by name. One query."""
    active = Enrollment.objects.filter(participant=participant, status=EnrollmentStatus.ACTIVE)
    primary = active.filter(primary_clinician=OuterRef("pk"))
    clinicians = (
        User.objects.filter(role=Role.CLINICIAN, is_active=True)
        .filter(Q(Exists(primary)) | Q(Exists(active.filter(program__clinicians=OuterRef("pk")))))
        .annotate(is_primary=Exists(primary))
        .order_by("-is_primary", "first_name", "last_name", "id")
    )
    return [(clinician, bool(clinician.is_primary)) for clinician in clinicians]
