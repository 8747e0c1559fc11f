"""Who may see or do what with a session. Used by the API, the live room and notifications."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import ConsentScope, Role, User
from accounts.selectors import adolescents_visible_to_guardian
from programs.models import Enrollment, EnrollmentStatus
from sessions.models import CalendarFeed, RosterEntry, Session, SessionFacilitator, SessionKind


def is_host(*, session: Session, user: User) -> bool:
    return session.facilitators.filter(clinician=user).exists()


def is_on_roster(*, session: Session, user: User) -> bool:
    return session.roster.filter(user=user, removed_at__isnull=True).exists()


def sessions_visible_to(user: User) -> QuerySet[Session]:
    """Participants: sessions they are on. Clinicians: sessions they facilitate or whose
    participants they are primary clinician for. Guardians: family sessions of a linked
    adolescent whose consent shares the schedule. Admins: all. Default: none."""
    sessions = Session.objects.all()
    if not user.is_active:
        return sessions.none()
    if user.role == Role.ADMIN:
        return sessions
    active_roster = RosterEntry.objects.filter(session=OuterRef("pk"), removed_at__isnull=True)
    if user.role == Role.PARTICIPANT:
        return sessions.filter(Exists(active_roster.filter(user=user)))
    if user.role == Role.CLINICIAN:
        facilitates = SessionFacilitator.objects.filter(session=OuterRef("pk"), clinician=user)
        supervised = Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, primary_clinician=user).values(
            "participant"
        )
        return sessions.filter(Q(Exists(facilitates)) | Q(Exists(active_roster.filter(user__in=supervised))))
    if user.role == Role.GUARDIAN:
        wards = adolescents_visible_to_guardian(guardian=user, scope=ConsentScope.SCHEDULE).values("pk")
        return sessions.filter(kind=SessionKind.FAMILY).filter(Exists(active_roster.filter(user__in=wards)))
    return sessions.none()


def sessions_between(user: User, start: datetime, end: datetime) -> QuerySet[Session]:
    """Sessions overlapping [start, end), in start order."""
    return sessions_visible_to(user).filter(starts_at__lt=end, ends_at__gt=start).order_by("starts_at", "id")


def calendar_feed_owner(token: str) -> User | None:
    from sessions.services import calendar_token_digest

    feed = (
        CalendarFeed.objects.filter(token_digest=calendar_token_digest(token), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    return feed.user
