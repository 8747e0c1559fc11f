"""The one way to notify someone, and every other write to notifications."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import guardian_may_see
from audit import services as audit
from notifications import events
from notifications.email import build_email
from notifications.kinds import TEMPLATES, NotificationKind, render
from notifications.models import Delivery, DeliveryStatus, KindPreference, Notification, NotificationSettings
from notifications.reminder_checks import reminder_refusal
from server.realtime import group_send_on_commit, user_group
from sessions.models import Session

logger = logging.getLogger(__name__)

EMAIL_MAX_ATTEMPTS = 5
FINAL_DELIVERY_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED)


def _email_wanted(user: User, kind: str) -> bool:
    if not user.email or not user.is_active:
        return False
    preference = KindPreference.objects.filter(user=user, kind=kind).first()
    return preference.email if preference is not None else True


def notify(
    *,
    recipient: User,
    kind: str,
    data: dict[str, str],
    about: User | None = None,
    dedupe_key: str | None = None,
    session: Session | None = None,
) -> Notification | None:
    """Store a notification, push it to the recipient's feed after commit and queue its
    email. ``about`` is the participant it concerns: a guardian recipient gets it only if
    that adolescent's active consent allows the kind's scope. ``session``, for kinds about
    one, puts the session's .ics in the email. Returns None when nothing is sent (no
    consent) or when ``dedupe_key`` was already used."""
    if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    if _guardian_may_not_receive(recipient, kind, about):
        return None
    rendered = render(kind, data)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient,
                about=about,
                kind=kind,
                title=rendered.title,
                body=rendered.body,
                data=data,
                dedupe_key=dedupe_key,
                session=session,
            )
            if _email_wanted(recipient, kind):
                delivery = Delivery.objects.create(notification=notification, channel="email")
                _dispatch_on_commit(delivery.pk)
            group_send_on_commit(
                user_group(recipient.pk),
                {"type": "notification.created", "frame": events.notification_frame(notification)},
            )
    except IntegrityError:
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    return notification


def _guardian_may_not_receive(recipient: User, kind: str, about: User | None) -> bool:
    """A guardian hears about an adolescent only while that adolescent's consent in force
    covers the kind's scope; a notice about the guardian's own access needs none."""
    if recipient.role != Role.GUARDIAN:
        return False
    template = TEMPLATES[kind]
    if template.guardian_notice:
        return False
    if template.guardian_scope is None or about is None:
        return True
    return not guardian_may_see(guardian=recipient, adolescent=about, scope=template.guardian_scope)


def _email_refusal(notification: Notification, now: datetime) -> str | None:
    """Why this email may no longer go out, or None. Asked again at sending time: an email
    may wait in the queue, for a retry or for quiet hours, while consent is revoked, a
    guardian link ends, the adolescent turns 18, the account is deactivated, the
    recipient turns email off for the kind, or a reminded session is moved, cancelled or
    under way."""
    recipient = notification.recipient
    if not recipient.is_active:
        return "recipient_inactive"
    if not _email_wanted(recipient, notification.kind):
        return "email_not_wanted"
    if _guardian_may_not_receive(recipient, notification.kind, notification.about):
        return "no_consent"
    if notification.kind == NotificationKind.SESSION_REMINDER:
        return reminder_refusal(notification, now)
    return None


def _dispatch_on_commit(delivery_id: int) -> None:
    from notifications.tasks import send_email_delivery

    transaction.on_commit(lambda: send_email_delivery.delay(delivery_id))


# --- Email delivery ----------------------------------------------------------------------


def quiet_hours_end(user: User, now: datetime) -> datetime | None:
    """When the user's quiet hours end, if ``now`` is inside them; else None."""
    prefs = NotificationSettings.objects.filter(user=user).first()
    if prefs is None or prefs.quiet_start is None or prefs.quiet_end is None:
        return None
    zone = ZoneInfo(user.time_zone)
    local = now.astimezone(zone)
    start, end, clock = prefs.quiet_start, prefs.quiet_end, local.time()
    overnight = start > end
    inside = (start <= clock or clock < end) if overnight else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if overnight and clock >= start else local.date()
    # Wall-clock end in the user's zone, so a DST change in the night is handled.
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(ZoneInfo("UTC"))


class EmailSendFailed(Exception):
    """The backend refused the message; the task retries with backoff."""


def deliver_email(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one email delivery at most once, and never lose it.

    The delivery row stays locked while the message is handed to the backend and is marked
    sent in the same transaction. A duplicate task waits on the lock and then finds it sent.
    A worker killed mid-send rolls the transaction back (the row stays pending) and the
    broker redelivers the task (acks_late + reject_on_worker_lost). The one remaining window
    is a crash after the SMTP server accepted the message but before the commit: then the
    message may go out twice, which we prefer to losing it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification__recipient", "notification__about", "notification__session")
            .get(pk=delivery_id)
        )
        if delivery.status in FINAL_DELIVERY_STATUSES:
            return str(delivery.status)
        notification = delivery.notification
        recipient = notification.recipient
        refusal = _email_refusal(notification, now)
        if refusal is not None:
            delivery.status = DeliveryStatus.SUPPRESSED
            delivery.last_error = refusal
            delivery.save(update_fields=["status", "last_error"])
            audit.record(actor=None, action="notification.email_suppressed", target=delivery, data={"reason": refusal})
            logger.info("Email delivery %s not sent: %s", delivery.pk, refusal)
            return str(delivery.status)
        if not TEMPLATES[notification.kind].urgent:
            held_until = quiet_hours_end(recipient, now)
            if held_until is not None:
                delivery.status = DeliveryStatus.HELD
                delivery.not_before = held_until
                delivery.save(update_fields=["status", "not_before"])
                return str(delivery.status)
        message = build_email(notification)
        delivery.attempts += 1
        try:
            message.send(fail_silently=False)
        except Exception as exc:
            # Only the exception's class: its text may echo addresses or server replies.
            delivery.last_error = type(exc).__name__
            if delivery.attempts >= EMAIL_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                logger.error("Email delivery %s failed after %s attempts", delivery.pk, delivery.attempts)
            delivery.save(update_fields=["attempts", "last_error", "status"])
            outcome = str(delivery.status)
        else:
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = timezone.now()
            delivery.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            outcome = str(delivery.status)
    if outcome == DeliveryStatus.PENDING:
        # Raised after the commit, so the attempt count is kept; the task retries.
        raise EmailSendFailed(delivery.last_error)
    return outcome


def release_held_deliveries(*, now: datetime | None = None) -> int:
    """Queue the held emails whose quiet hours have ended (a beat task)."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(status=DeliveryStatus.HELD, not_before__lte=now).values_list("pk", flat=True)[:500]
    )
    with transaction.atomic():
        Delivery.objects.filter(pk__in=due, status=DeliveryStatus.HELD).update(status=DeliveryStatus.PENDING)
        for delivery_id in due:
            _dispatch_on_commit(delivery_id)
    return len(due)


# --- Reading and preferences -------------------------------------------------------------


def mark_read(*, user: User, notification: Notification) -> Notification:
    if notification.recipient_id != user.pk:
        raise PermissionDenied("Not your notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def set_preferences(
    *,
    user: User,
    quiet_hours: tuple[time, time] | bool | None = False,
    email_by_kind: dict[str, bool] | None = None,
    reminder_offsets: list[int] | bool | None = False,
) -> None:
    """``quiet_hours``: (start, end) to set, None to clear, False to leave unchanged.
    ``reminder_offsets``: the reminders wanted, minutes before a session's start, each one
    of settings.SESSION_REMINDER_OFFSETS_MINUTES ([] for none); None for all of them (the
    default); False to leave unchanged."""
    email_by_kind = email_by_kind or {}
    unknown = [kind for kind in email_by_kind if kind not in NotificationKind.values]
    if unknown:
        raise ValidationError({"kinds": [f"Unknown kind {kind!r}." for kind in unknown]})
    if isinstance(reminder_offsets, list):
        _check_reminder_offsets(reminder_offsets)
    if quiet_hours not in (False, None):
        assert isinstance(quiet_hours, tuple)
        if quiet_hours[0] == quiet_hours[1]:
            raise ValidationError({"quiet_hours": "Quiet hours must start and end at different times."})
    with transaction.atomic():
        if quiet_hours is not False:
            start, end = quiet_hours if isinstance(quiet_hours, tuple) else (None, None)
            NotificationSettings.objects.update_or_create(user=user, defaults={"quiet_start": start, "quiet_end": end})
        if reminder_offsets is None or isinstance(reminder_offsets, list):
            offsets = None if reminder_offsets is None else sorted(set(reminder_offsets), reverse=True)
            NotificationSettings.objects.update_or_create(user=user, defaults={"reminder_offsets_minutes": offsets})
        for kind, email in email_by_kind.items():
            KindPreference.objects.update_or_create(user=user, kind=kind, defaults={"email": email})


def _check_reminder_offsets(offsets: list[int]) -> None:
    allowed = settings.SESSION_REMINDER_OFFSETS_MINUTES
    if len(offsets) != len(set(offsets)):
        raise ValidationError({"reminders": "Each reminder may be listed once."})
    other = [offset for offset in offsets if offset not in allowed]
    if other and not allowed:
        raise ValidationError({"reminders": "This server sends no session reminders: give []."})
    if other:
        choices = ", ".join(str(offset) for offset in allowed)
        raise ValidationError({"reminders": f"Reminders can be {choices} minutes before a session."})
