"""Scheduled therapy sessions (group, individual, family), their hosts and rosters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class SessionKind(models.TextChoices):
    GROUP = "group", "Group"
    INDIVIDUAL = "individual", "Individual"
    FAMILY = "family", "Family"


# Kinds that can be scheduled directly; family sessions come from bookings.
SCHEDULABLE_KINDS = [("group", "Group"), ("individual", "Individual")]


class SessionService(models.TextChoices):
    """The service a session delivers, which a bill is built from (CLINICAL.md
    "Modalities"). The billing export lists the services a participant attended each day."""

    GROUP_THERAPY = "group_therapy", "Group therapy"
    INDIVIDUAL_THERAPY = "individual_therapy", "Individual therapy"
    FAMILY_THERAPY = "family_therapy", "Family therapy"
    PSYCHOEDUCATION = "psychoeducation", "Psychoeducation"
    MEDICATION_MANAGEMENT = "medication_management", "Medication management"
    SKILLS_GROUP = "skills_group", "Skills group (CBT, DBT)"
    HOLISTIC = "holistic", "Holistic (art, mindfulness, yoga)"


# The service of a session or schedule made without one: its kind's plain therapy.
DEFAULT_SERVICE_BY_KIND = {
    "group": SessionService.GROUP_THERAPY,
    "individual": SessionService.INDIVIDUAL_THERAPY,
    "family": SessionService.FAMILY_THERAPY,
}


def default_service(kind: str) -> str:
    return DEFAULT_SERVICE_BY_KIND[kind].value


def _service_is_known(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(service__in=SessionService.values), name=name)


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    OPEN = "open", "Open"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


class RecurringSchedule(models.Model):
    """A group (or one participant's individual sessions) meeting on weekdays at a
    wall-clock time in an IANA zone. Expanded into Session rows per occurrence, so 17:00
    stays 17:00 local across DST changes."""

    kind = models.CharField(max_length=16, choices=SCHEDULABLE_KINDS)
    # Copied to every occurrence; empty on save means the kind's default (default_service).
    service = models.CharField(max_length=32, choices=SessionService.choices)
    title = models.CharField(max_length=200)
    group = models.ForeignKey(
        "groups.TherapyGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="schedules"
    )
    participant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    weekdays = ArrayField(models.PositiveSmallIntegerField(), help_text="ISO weekday numbers, 1 = Monday.")
    start_time = models.TimeField(help_text="Local wall-clock time in time_zone.")
    duration_minutes = models.PositiveSmallIntegerField()
    time_zone = models.CharField(max_length=64)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="group") & Q(group__isnull=False))
                | (Q(kind="individual") & Q(participant__isnull=False) & Q(clinician__isnull=False)),
                name="schedule_kind_has_its_people",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=15) & Q(duration_minutes__lte=480), name="schedule_duration_15_to_480"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="schedule_ends_after_start"
            ),
            _service_is_known("schedule_service_known"),
        ]

    def __str__(self) -> str:
        return f"schedule #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Callers that predate services (and factories) name none: the kind decides.
        self.service = self.service or default_service(self.kind)
        super().save(*args, **kwargs)


class Session(models.Model):
    kind = models.CharField(max_length=16, choices=SessionKind.choices)
    # What a bill is built from; empty on save means the kind's default (default_service).
    # bulk_create skips save(): a trigger gives such rows the same default (migration 0007).
    service = models.CharField(max_length=32, choices=SessionService.choices)
    title = models.CharField(max_length=200, help_text="Clinical title; never sent outside the system.")
    group = models.ForeignKey(
        "groups.TherapyGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    schedule = models.ForeignKey(
        RecurringSchedule, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    # The local date of the occurrence this row stands for; stays put when it is moved.
    occurrence_date = models.DateField(null=True, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True)
    # Participants wait to be admitted unless this is set.
    admit_directly = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["starts_at"]), models.Index(fields=["ends_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start"),
            models.CheckConstraint(condition=~Q(kind="group") | Q(group__isnull=False), name="group_session_has_group"),
            _service_is_known("session_service_known"),
        ]

    def __str__(self) -> str:
        return f"session #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.service = self.service or default_service(self.kind)
        super().save(*args, **kwargs)

    def opens_at(self) -> datetime:
        return self.starts_at - timedelta(minutes=settings.SESSION_OPEN_LEAD_MINUTES)

    def status_at(self, now: datetime) -> SessionStatus:
        if self.cancelled_at is not None:
            return SessionStatus.CANCELLED
        if self.ended_at is not None or now >= self.ends_at:
            return SessionStatus.ENDED
        if now >= self.opens_at():
            return SessionStatus.OPEN
        return SessionStatus.SCHEDULED

    @property
    def status(self) -> SessionStatus:
        return self.status_at(timezone.now())


class FacilitatorRole(models.TextChoices):
    LEAD = "lead", "Lead facilitator"
    CO = "co", "Co-facilitator"


class SessionFacilitator(models.Model):
    """Hosts of a session: the lead and any co-facilitators (all clinicians)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="facilitators")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=FacilitatorRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "clinician"], name="one_facilitator_row_per_clinician"),
            models.UniqueConstraint(fields=["session"], condition=Q(role="lead"), name="one_lead_per_session"),
        ]

    def __str__(self) -> str:
        return f"facilitator #{self.pk}"


class RosterRole(models.TextChoices):
    PARTICIPANT = "participant", "Participant"
    GUARDIAN = "guardian", "Guardian (family sessions only)"


class RosterEntry(models.Model):
    """Who may join the session besides its hosts. Removal keeps the row (history)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="roster")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="roster_entries")
    role = models.CharField(max_length=16, choices=RosterRole.choices, default=RosterRole.PARTICIPANT)
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_roster_row_per_user"),
            models.CheckConstraint(condition=Q(role__in=["participant", "guardian"]), name="roster_role_valid"),
        ]
        indexes = [models.Index(fields=["user", "session"])]

    def __str__(self) -> str:
        return f"roster entry #{self.pk}"


class CalendarFeed(models.Model):
    """A private, revocable iCal URL. Only a digest of its token is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feeds")
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(revoked_at__isnull=True), name="one_active_feed"),
        ]

    def __str__(self) -> str:
        return f"calendar feed #{self.pk}"


class ChatMessage(models.Model):
    """A chat line in a live room. (session, user, client_id) is unique, so a client that
    re-sends after a reconnect does not post twice."""

    # No index of its own: the unique constraint starts with it, and chat is the table
    # written most (one index fewer on every line).
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="chat_messages", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    client_id = models.CharField(max_length=64)
    text = models.TextField(max_length=4000)
    # No seq: a line's place in the live stream lives in Redis only (sessions/rooms/
    # store.py); history here is read by id. A session's lines are found through the
    # unique constraint's session prefix (a therapy session's chat is small).
    breakout = models.PositiveSmallIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user", "client_id"], name="one_message_per_client_id"),
        ]

    def __str__(self) -> str:
        return f"chat message #{self.pk}"


class AttendanceSegment(models.Model):
    """One connected interval of a person in a session's room (main room or a breakout).
    Several tabs share one segment; attendance is the union of segments (CLINICAL.md)."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="attendance_segments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attendance_segments")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    left_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], condition=Q(left_at__isnull=True), name="one_open_segment_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"attendance segment #{self.pk}"


class RoomRemoval(models.Model):
    """A host removed this person from this session: they cannot rejoin it."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="removals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_removal_per_person")]

    def __str__(self) -> str:
        return f"removal #{self.pk}"
