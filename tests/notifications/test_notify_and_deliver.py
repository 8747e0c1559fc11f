"""notify(): storage, consent for guardians, preferences, dedupe; email delivery: once,
quiet hours (across a DST change), retries then failure."""

from __future__ import annotations

from datetime import UTC, datetime, time
from unittest import mock

import pytest
import time_machine
from django.core import mail

from accounts.models import Consent, User
from notifications import services
from notifications.kinds import NotificationKind
from notifications.models import Delivery, DeliveryStatus, Notification

pytestmark = pytest.mark.django_db


def test_notify_stores_and_queues_one_email(emailable: User, opening_data: dict[str, str]) -> None:
    notification = services.notify(recipient=emailable, kind=NotificationKind.SESSION_OPENING, data=opening_data)
    assert notification is not None
    assert notification.title == "Your session at 17:00 is open"
    assert Delivery.objects.get(notification=notification).status == DeliveryStatus.PENDING


def test_email_preference_off_means_in_app_only(emailable: User, opening_data: dict[str, str]) -> None:
    services.set_preferences(user=emailable, email_by_kind={NotificationKind.SESSION_OPENING: False})
    notification = services.notify(recipient=emailable, kind=NotificationKind.SESSION_OPENING, data=opening_data)
    assert notification is not None
    assert not Delivery.objects.exists()


def test_dedupe_key_notifies_once(sam: User, opening_data: dict[str, str]) -> None:
    first = services.notify(recipient=sam, kind="session_opening", data=opening_data, dedupe_key="k1")
    second = services.notify(recipient=sam, kind="session_opening", data=opening_data, dedupe_key="k1")
    assert first is not None and second is None
    assert Notification.objects.count() == 1


def test_guardian_gets_notifications_only_with_consent(pat: User, ava: User, opening_data: dict[str, str]) -> None:
    assert services.notify(recipient=pat, kind="session_opening", data=opening_data, about=ava) is not None
    # No "about": a guardian is never notified of something not tied to a consenting adolescent.
    assert services.notify(recipient=pat, kind="session_opening", data=opening_data) is None
    # Hours need the hours scope, which ava did not give.
    assert services.notify(recipient=pat, kind="hours_at_risk", data={"link": "/hours"}, about=ava) is None
    # Clinical alerts never go to guardians.
    assert services.notify(recipient=pat, kind="clinical_alert", data={"link": "/alerts/1"}, about=ava) is None


def test_consent_revoked_stops_guardian_notifications_immediately(
    pat: User, ava: User, opening_data: dict[str, str]
) -> None:
    from accounts.services import revoke_consent

    consent = Consent.objects.get(link__guardian=pat)
    revoke_consent(by=ava, consent=consent)
    assert services.notify(recipient=pat, kind="session_opening", data=opening_data, about=ava) is None
    assert not Notification.objects.filter(recipient=pat).exists()


def test_delivery_sends_once_even_when_run_twice(emailable: User, opening_data: dict[str, str]) -> None:
    notification = services.notify(recipient=emailable, kind="session_opening", data=opening_data)
    assert notification is not None
    delivery = Delivery.objects.get(notification=notification)
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sam@example.invalid"]
    assert message.subject == "Your session at 17:00 is open"


def _quiet(user: User, start: time, end: time) -> None:
    services.set_preferences(user=user, quiet_hours=(start, end))


def test_quiet_hours_hold_email_until_they_end_across_dst(emailable: User, opening_data: dict[str, str]) -> None:
    # New York falls back at 02:00 on 2026-11-01. Quiet 22:00-07:00 local.
    _quiet(emailable, time(22, 0), time(7, 0))
    with time_machine.travel(datetime(2026, 11, 1, 3, 30, tzinfo=UTC), tick=False):  # 23:30 EDT on Oct 31
        notification = services.notify(recipient=emailable, kind="session_opening", data=opening_data)
        assert notification is not None
        delivery = Delivery.objects.get(notification=notification)
        assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.HELD
    delivery.refresh_from_db()
    # 07:00 EST on Nov 1 is 12:00 UTC (it would be 11:00 UTC without the change).
    assert delivery.not_before == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert mail.outbox == []
    with time_machine.travel(datetime(2026, 11, 1, 11, 30, tzinfo=UTC), tick=False):
        assert services.release_held_deliveries() == 0
    with time_machine.travel(datetime(2026, 11, 1, 12, 1, tzinfo=UTC), tick=False):
        assert services.release_held_deliveries() == 1
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    assert len(mail.outbox) == 1


def test_urgent_kinds_ignore_quiet_hours(dana: User) -> None:
    dana.email = "dana@example.invalid"
    dana.save(update_fields=["email"])
    _quiet(dana, time(0, 0), time(23, 59))
    notification = services.notify(recipient=dana, kind="clinical_alert", data={"link": "/alerts/7"})
    assert notification is not None
    delivery = Delivery.objects.get(notification=notification)
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT


def test_smtp_failure_retries_then_fails_visibly(emailable: User, opening_data: dict[str, str]) -> None:
    notification = services.notify(recipient=emailable, kind="session_opening", data=opening_data)
    assert notification is not None
    delivery = Delivery.objects.get(notification=notification)
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("smtp down")):
        for attempt in range(1, services.EMAIL_MAX_ATTEMPTS):
            with pytest.raises(services.EmailSendFailed):
                services.deliver_email(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            assert delivery.attempts == attempt and delivery.status == DeliveryStatus.PENDING
        assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "ConnectionRefusedError"
    # Given up on: not retried by another run.
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.FAILED
    assert mail.outbox == []


def test_task_retries_with_backoff_on_failure(emailable: User, opening_data: dict[str, str]) -> None:
    from celery.exceptions import Retry

    from notifications.tasks import send_email_delivery

    notification = services.notify(recipient=emailable, kind="session_opening", data=opening_data)
    assert notification is not None
    delivery = Delivery.objects.get(notification=notification)
    with (
        mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("down")),
        mock.patch.object(send_email_delivery, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        send_email_delivery.run(delivery.pk)
    assert retry.call_args.kwargs["countdown"] == 30
