"""Notifications, per-user preferences, and one delivery record per notification and
outbound channel (the exactly-once guard for email)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from notifications.kinds import NotificationKind


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    # The participant it concerns, for a guardian recipient: their consent is checked again
    # when an email is sent, not only when the notification is made.
    about = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=1000)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Makes "notify once" idempotent, e.g. session_opening:<session>:<user>.
    dedupe_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    # The session it is about, if any: its email then carries the session's .ics, built
    # from the session as it is at sending time (notifications/email.py).
    session = models.ForeignKey(
        "therapy_sessions.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "id"])]

    def __str__(self) -> str:
        return f"notification #{self.pk}"


class NotificationSettings(models.Model):
    """Quiet hours in the user's own time zone (non-urgent email waits until they end) and
    the session reminders the user wants."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    # Which of settings.SESSION_REMINDER_OFFSETS_MINUTES this person wants; None = all of
    # them, [] = no reminders at all (in-app or email).
    reminder_offsets_minutes = ArrayField(models.PositiveIntegerField(), null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | Q(quiet_start__isnull=False, quiet_end__isnull=False),
                name="quiet_hours_both_or_neither",
            )
        ]

    def __str__(self) -> str:
        return f"notification settings of user #{self.user_id}"


class KindPreference(models.Model):
    """Email on or off for one kind (in-app is always on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_kinds")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} preference of user #{self.user_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    HELD = "held", "Held for quiet hours"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed after retries"
    # Not sent: by sending time the recipient might no longer receive it (consent or link
    # ended, account deactivated, email turned off). ``last_error`` holds the reason.
    SUPPRESSED = "suppressed", "Not sent (no longer allowed)"


class Delivery(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=[("email", "Email")])
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [models.Index(fields=["status", "not_before"])]

    def __str__(self) -> str:
        return f"{self.channel} delivery #{self.pk}"


class SessionReminder(models.Model):
    """One reminder of one session to one person, claimed by the reminder sweep.

    Keyed on the session's start as it was when the reminder came due: a moved session's
    new reminders get new keys, and its old ones are never due again at the old time.
    Inserted with ON CONFLICT DO NOTHING in the transaction that stores the notification,
    so concurrent or repeated sweeps send each reminder once (notifications/reminders.py)."""

    session = models.ForeignKey("therapy_sessions.Session", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    offset_minutes = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    notification = models.OneToOneField(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="session_reminder"
    )
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user", "offset_minutes", "starts_at"], name="one_reminder_per_session_start"
            ),
        ]

    def __str__(self) -> str:
        return f"session reminder #{self.pk}"
