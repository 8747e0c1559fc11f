"""An email waits (queued, retried, held for quiet hours) and the right to receive it can
end meanwhile: consent revoked or narrowed, guardian link ended, the adolescent turned 18,
the recipient deactivated or email turned off. It is checked again at sending time: the
delivery is then suppressed (not sent), audited with the reason and no text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import services as accounts
from accounts.models import Consent, ConsentScope, GuardianLink, User
from audit.models import AuditEntry
from notifications import services
from notifications.kinds import NotificationKind
from notifications.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db


def _queued_for_pat(pat: User, ava: User, opening_data: dict[str, str]) -> Delivery:
    notification = services.notify(recipient=pat, kind=NotificationKind.SESSION_OPENING, data=opening_data, about=ava)
    assert notification is not None
    return Delivery.objects.get(notification=notification)


def _assert_suppressed(delivery: Delivery, reason: str) -> None:
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SUPPRESSED
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUPPRESSED and delivery.last_error == reason
    assert delivery.sent_at is None and mail.outbox == []
    entry = AuditEntry.objects.get(action="notification.email_suppressed")
    assert entry.target_id == str(delivery.pk) and entry.data == {"reason": reason}
    # A later (duplicate or retried) task does not send it either.
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SUPPRESSED
    assert mail.outbox == []


def test_an_email_to_a_guardian_still_consented_is_sent(pat: User, ava: User, opening_data: dict[str, str]) -> None:
    delivery = _queued_for_pat(pat, ava, opening_data)
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
    assert len(mail.outbox) == 1


def _revoke_consent(pat: User, ava: User, ada: User) -> None:
    accounts.revoke_consent(by=ava, consent=Consent.objects.get(link__guardian=pat, revoked_at__isnull=True))


def _narrow_consent(pat: User, ava: User, ada: User) -> None:
    accounts.give_consent(by=ava, link=GuardianLink.objects.get(guardian=pat), scopes=[ConsentScope.HOURS])


def _revoke_link(pat: User, ava: User, ada: User) -> None:
    accounts.revoke_guardian_link(by=ada, link=GuardianLink.objects.get(guardian=pat))


def _deactivate_guardian(pat: User, ava: User, ada: User) -> None:
    accounts.deactivate_user(by=ada, user=pat)


def _email_off(pat: User, ava: User, ada: User) -> None:
    services.set_preferences(user=pat, email_by_kind={NotificationKind.SESSION_OPENING: False})


@pytest.mark.parametrize(
    ("end_access", "reason"),
    [
        (_revoke_consent, "no_consent"),
        (_narrow_consent, "no_consent"),
        (_revoke_link, "no_consent"),
        (_deactivate_guardian, "recipient_inactive"),
        (_email_off, "email_not_wanted"),
    ],
)
def test_a_queued_email_is_not_sent_once_the_right_to_it_ended(
    pat: User, ava: User, ada: User, opening_data: dict[str, str], end_access: Callable[..., None], reason: str
) -> None:
    delivery = _queued_for_pat(pat, ava, opening_data)
    end_access(pat, ava, ada)
    _assert_suppressed(delivery, reason)


def test_a_held_email_is_not_sent_after_consent_is_revoked_in_quiet_hours(
    pat: User, ava: User, ada: User, opening_data: dict[str, str]
) -> None:
    pat.time_zone = "UTC"
    pat.save(update_fields=["time_zone"])
    services.set_preferences(user=pat, quiet_hours=(time(22, 0), time(7, 0)))
    night = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    with time_machine.travel(night, tick=False):
        delivery = _queued_for_pat(pat, ava, opening_data)
        assert services.deliver_email(delivery_id=delivery.pk, now=night) == DeliveryStatus.HELD
        _revoke_consent(pat, ava, ada)
    with time_machine.travel(night + timedelta(hours=9), tick=False):
        assert services.release_held_deliveries() == 1
        _assert_suppressed(delivery, "no_consent")


def test_a_queued_email_is_not_sent_after_the_adolescent_turned_18(
    pat: User, ava: User, opening_data: dict[str, str]
) -> None:
    today = timezone.localdate()
    ava.birth_date = today.replace(year=today.year - 18) + timedelta(days=3)
    if (ava.birth_date.month, ava.birth_date.day) == (2, 29):  # pragma: no cover
        ava.birth_date += timedelta(days=1)
    ava.save(update_fields=["birth_date"])
    delivery = _queued_for_pat(pat, ava, opening_data)
    with time_machine.travel(timezone.now() + timedelta(days=4), tick=False):
        _assert_suppressed(delivery, "no_consent")


def test_a_notice_about_the_guardians_own_access_needs_no_consent(pat: User, ava: User) -> None:
    _revoke_link(pat, ava, User.objects.get(username="ada"))
    notice = services.notify(recipient=pat, kind=NotificationKind.GUARDIAN_ACCESS_ENDED, data={"link": "/account"})
    assert notice is not None
    delivery = Delivery.objects.get(notification=notice)
    assert services.deliver_email(delivery_id=delivery.pk) == DeliveryStatus.SENT
