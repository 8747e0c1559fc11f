"""Every write of the staff second factor: TOTP enrolment with recovery codes
(django-otp's TOTP and static devices), and the check at API sign-in.

Who needs it: staff accounts (clinicians, program admins, anyone who can reach the Django
admin). A staff member with a confirmed authenticator always gives a code; one without
is refused sign-in (``otp_enrolment_required``) while STAFF_REQUIRE_2FA is on, and
enrols with their password instead of a token (accounts/api.py). Only demo mode may turn
STAFF_REQUIRE_2FA off. Participants and guardians are never asked.

Secrets, codes and recovery codes are never audited or logged.
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from audit import services as audit
from server.errors import Conflict

RECOVERY_CODE_COUNT = 10
STAFF_ROLES = frozenset({Role.CLINICIAN, Role.ADMIN})
# An authenticator's code is six digits; anything else is tried as a recovery code, so a
# wrong guess counts against one device only (django-otp throttles each device).
_TOTP_CODE = re.compile(r"\d{6}")


class SecondFactorRequired(Exception):
    """The password matched; a code from the authenticator (or a recovery code) is needed."""


class SecondFactorInvalid(Exception):
    """The code given does not match (it counts as a failed login)."""


class SecondFactorEnrolmentRequired(Exception):
    """A staff account without an authenticator, where one is required."""


def is_staff_account(user: Any) -> bool:
    return bool(user.role in STAFF_ROLES or user.is_staff or user.is_superuser)


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_needed(user: Any) -> bool:
    """Whether this account must give a second factor to sign in. Demo staff without an
    authenticator are exempt only when both DEMO and STAFF_REQUIRE_2FA=0 say so."""
    if not is_staff_account(user):
        return False
    if settings.STAFF_REQUIRE_2FA or not settings.DEMO:
        return True
    return has_confirmed_device(user)


def _normalise(code: str) -> str:
    # Apps show "123 456"; recovery codes are handed out in lower case.
    return code.replace(" ", "").replace("-", "").strip().lower()


def _verify_code(*, user: User, code: str) -> str | None:
    """Which kind of code matched ("totp" or "recovery_code"), or None. A recovery code
    is used up by matching. Call outside a transaction that a failure rolls back:
    django-otp's failure counter (its throttle) must be committed."""
    code = _normalise(code)
    with transaction.atomic():
        # Row locks: two requests with one code cannot both pass (TOTP keeps the last
        # time step used; a recovery code is deleted on use).
        if _TOTP_CODE.fullmatch(code):
            totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            return "totp" if totp is not None and totp.verify_token(code) else None
        recovery = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        return "recovery_code" if recovery is not None and recovery.verify_token(code) else None


def check_sign_in(*, request: HttpRequest, user: User, username: str, otp: str | None) -> str | None:
    """After the password matched: how the second factor was given ("totp",
    "recovery_code") or None when this account needs none. A wrong code is a failed login
    for django-axes' lock-out, like a wrong password."""
    if not second_factor_needed(user):
        return None
    if not has_confirmed_device(user):
        with transaction.atomic():
            audit.record(
                actor=None,
                action="auth.login_refused",
                target=user,
                data={"username": username[:150], "reason": "otp_enrolment_required"},
            )
        raise SecondFactorEnrolmentRequired()
    if not otp:
        raise SecondFactorRequired()
    used = _verify_code(user=user, code=otp)
    if used is None:
        # The same signal a wrong password sends: axes counts it per account and address.
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        with transaction.atomic():
            audit.record(
                actor=None,
                action="auth.login_failed",
                target=user,
                data={"username": username[:150], "reason": "otp_invalid"},
            )
        raise SecondFactorInvalid()
    return used


# --- Enrolment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str


def _ensure_staff(user: User) -> None:
    if not (user.is_active and is_staff_account(user)):
        raise PermissionDenied("Only staff accounts use an authenticator app here.")


def start_totp_enrolment(*, user: User) -> TotpEnrolment:
    """A new, unconfirmed authenticator (replacing an earlier unconfirmed one). It counts
    only once confirmed with a code from the app."""
    _ensure_staff(user)
    with transaction.atomic():
        # One enrolment at a time per user.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            # Replacing a working authenticator needs its code: disable first.
            raise Conflict("An authenticator is already set up; disable it first.", code="otp_already_enabled")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        audit.record(actor=user, action="auth.totp_start", target=user)
    return TotpEnrolment(secret=b32encode(device.bin_key).decode(), otpauth_uri=device.config_url)


def confirm_totp_enrolment(*, user: User, code: str) -> list[str]:
    """Confirm the authenticator with a code from it. Returns the recovery codes, shown
    this once; any earlier recovery codes stop working."""
    _ensure_staff(user)
    recovery_codes: list[str] = []
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                raise Conflict("The authenticator is already confirmed.", code="otp_already_enabled")
            raise Conflict("Start enrolment first (POST /api/v1/auth/totp/).", code="otp_enrolment_not_started")
        # A failed check must not raise inside this block: its throttle count has to commit.
        if device.verify_token(_normalise(code)):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            StaticDevice.objects.filter(user=user).delete()
            recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
            while len(recovery_codes) < RECOVERY_CODE_COUNT:
                candidate = StaticToken.random_token()
                if candidate not in recovery_codes:
                    recovery_codes.append(candidate)
            StaticToken.objects.bulk_create(StaticToken(device=recovery, token=value) for value in recovery_codes)
            audit.record(
                actor=user, action="auth.totp_confirm", target=user, data={"recovery_code_count": RECOVERY_CODE_COUNT}
            )
    if not recovery_codes:
        raise ValidationError({"code": "That code does not match the authenticator. Check the app's clock."})
    return recovery_codes


def disable_totp(*, user: User, code: str) -> None:
    """Remove the authenticator and the recovery codes, proven by a current code (or a
    recovery code, when the phone is lost). Where the second factor is required, the next
    sign-in asks to enrol again."""
    _ensure_staff(user)
    if not has_confirmed_device(user):
        raise Conflict("No authenticator is set up.", code="otp_not_enabled")
    used = _verify_code(user=user, code=code)
    if used is None:
        raise ValidationError({"code": "That code does not match."})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record(actor=user, action="auth.totp_disable", target=user, data={"proved_with": used})


def reset_second_factor(*, by: User, user: User) -> None:
    """A program admin removes a staff member's authenticator and recovery codes (a lost
    phone); where the second factor is required, they enrol again at their next sign-in.
    The Django admin's only write to these devices: it cannot add one or show a secret."""
    if not (by.is_active and by.role == Role.ADMIN):
        raise PermissionDenied("Only program admins can reset a second factor.")
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record(actor=by, action="auth.totp_reset", target=user, data={"had_authenticator": bool(removed)})
