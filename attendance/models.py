"""Per-session attendance records: what the rooms' segments add up to, and a clinician's
override kept beside the computed values (CLINICAL.md: attended, late, left early, absent,
excused or not)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AttendanceStatus(models.TextChoices):
    ATTENDED = "attended", "Attended"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    PARTIAL = "partial", "Partial"
    ABSENT = "absent", "Absent"


class OverrideStatus(models.TextChoices):
    ATTENDED = "attended", "Attended"
    LATE = "late", "Late"
    LEFT_EARLY = "left_early", "Left early"
    PARTIAL = "partial", "Partial"
    ABSENT = "absent", "Absent"
    # Only for a computed absence (services.override_attendance checks it).
    EXCUSED = "excused", "Excused absence"


class AttendanceRecord(models.Model):
    """One roster member's attendance of one session. The computed_* fields and the
    intervals are rewritten by every recompute (attendance.services); the override_*
    fields are written only by a clinician and never by a recompute."""

    session = models.ForeignKey("therapy_sessions.Session", on_delete=models.PROTECT, related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attendance_records")
    attended_seconds = models.PositiveIntegerField()
    # Whole minutes, rounded down from attended_seconds.
    attended_minutes = models.PositiveIntegerField()
    first_join = models.DateTimeField(null=True, blank=True)
    last_leave = models.DateTimeField(null=True, blank=True)
    # The merged intervals behind the figures: [{"from": iso, "to": iso}, ...] in order.
    intervals = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=AttendanceStatus.choices)

    override_status = models.CharField(max_length=16, choices=OverrideStatus.choices, null=True, blank=True)
    override_minutes = models.PositiveIntegerField(null=True, blank=True)
    override_reason = models.TextField(blank=True, max_length=2000)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_attendance_record_per_person"),
            models.CheckConstraint(
                condition=(Q(override_status__isnull=True) & Q(override_minutes__isnull=True)) | ~Q(override_reason=""),
                name="attendance_override_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["user", "session"])]

    def __str__(self) -> str:
        return f"attendance record #{self.pk}"

    @property
    def is_overridden(self) -> bool:
        return self.override_status is not None or self.override_minutes is not None

    @property
    def effective_status(self) -> str:
        return self.override_status or self.status

    @property
    def effective_minutes(self) -> int:
        return self.override_minutes if self.override_minutes is not None else self.attended_minutes


class AttendanceRun(models.Model):
    """The session's attendance has been computed (at least once). The beat sweep looks for
    ended sessions without one; a session with nobody on its roster gets one too, so it is
    not swept again and again."""

    session = models.OneToOneField(
        "therapy_sessions.Session", on_delete=models.PROTECT, related_name="attendance_run", primary_key=True
    )
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"attendance run of session #{self.pk}"
