"""Family-session booking: clinicians' availability, the bookings made against it, and the
Idempotency-Key record that makes a retried POST return its first answer.

A booking owns the family session it created (sessions.Session, kind `family`); the
session is what rooms, reminders and the calendar read. The booking keeps the booked
interval beside it so PostgreSQL itself refuses two live bookings of one clinician that
overlap (an exclusion constraint, race-free however many requests arrive at once)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Q

from accounts.models import validate_time_zone


class BookingPolicy(models.Model):
    """One clinician's booking rules. Absent means these defaults in the clinician's own time zone."""

    clinician = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="booking_policy")
    # The zone the availability windows' wall-clock times are in.
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    session_minutes = models.PositiveSmallIntegerField(default=50)
    buffer_minutes = models.PositiveSmallIntegerField(default=10)
    min_notice_minutes = models.PositiveIntegerField(default=24 * 60)
    cancellation_cutoff_minutes = models.PositiveIntegerField(default=24 * 60)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(session_minutes__gte=15) & Q(session_minutes__lte=240), name="booking_length_15_to_240"
            ),
            models.CheckConstraint(condition=Q(buffer_minutes__lte=120), name="booking_buffer_at_most_120"),
            models.CheckConstraint(
                condition=Q(min_notice_minutes__lte=30 * 24 * 60), name="booking_notice_at_most_30_days"
            ),
            models.CheckConstraint(
                condition=Q(cancellation_cutoff_minutes__lte=30 * 24 * 60), name="booking_cutoff_at_most_30_days"
            ),
        ]

    def __str__(self) -> str:
        return f"booking policy #{self.pk}"


class AvailabilityWindow(models.Model):
    """A weekly recurring window, wall-clock in the clinician's policy zone, so 09:00 stays
    09:00 local across DST changes. Within one day (no window crosses midnight)."""

    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="availability")
    weekday = models.PositiveSmallIntegerField(help_text="ISO weekday, 1 = Monday.")
    start_time = models.TimeField()
    end_time = models.TimeField()
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["weekday", "start_time", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=1) & Q(weekday__lte=7), name="window_weekday_iso"),
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="window_ends_after_start"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="window_valid_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return f"availability window #{self.pk}"


class ExceptionKind(models.TextChoices):
    TIME_OFF = "time_off", "Time off"
    EXTRA_HOURS = "extra_hours", "Extra hours"


class AvailabilityException(models.Model):
    """A dated change to the weekly windows, on a local date in the policy zone: time off
    (no times = the whole day) or extra hours (times required)."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="availability_exceptions"
    )
    kind = models.CharField(max_length=16, choices=ExceptionKind.choices)
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "start_time", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(start_time__isnull=True) & Q(end_time__isnull=True))
                | (Q(start_time__isnull=False) & Q(end_time__gt=F("start_time"))),
                name="exception_times_both_or_none",
            ),
            models.CheckConstraint(
                condition=~Q(kind="extra_hours") | Q(start_time__isnull=False), name="extra_hours_have_times"
            ),
        ]

    def __str__(self) -> str:
        return f"availability exception #{self.pk}"


class Booking(models.Model):
    """A family session booked in a clinician's availability. Cancelling keeps the row."""

    session = models.OneToOneField("therapy_sessions.Session", on_delete=models.PROTECT, related_name="booking")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings_held")
    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="family_bookings")
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings_made")
    # The session's [starts_at, ends_at), kept equal to it by bookings.services (move,
    # reschedule); the exclusion constraint below reads it.
    during = DateTimeRangeField()
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            ExclusionConstraint(
                name="no_overlapping_bookings_per_clinician",
                expressions=[("clinician", RangeOperators.EQUAL), ("during", RangeOperators.OVERLAPS)],
                condition=Q(cancelled_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"booking #{self.pk}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, per caller and key. The same
    key and body get that answer again; another body gets 422; after the TTL the key is
    free (a beat task deletes expired rows)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=32, help_text="Which endpoint the key was used on.")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64, help_text="sha256 of the canonical request body.")
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "scope", "key"], name="one_record_per_idempotency_key")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"idempotency record #{self.pk}"
