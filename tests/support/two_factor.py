"""Staff second factor in tests: a confirmed authenticator, its current code, and a
Django-admin session that has passed the second factor."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

RECOVERY_CODES = ["aaaa2222", "bbbb3333"]


def confirmed_authenticator(user: User, *, recovery_codes: list[str] | None = None) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    for code in RECOVERY_CODES if recovery_codes is None else recovery_codes:
        StaticToken.objects.create(device=recovery, token=code)
    return device


def current_code(device: TOTPDevice) -> str:
    """The code the authenticator app shows now (time-machine moves it)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def admin_client_with_second_factor(user: User) -> Client:
    """A Django-admin client signed in as ``user`` who has given their second factor, as
    the admin's login form records it (django_otp.login)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or confirmed_authenticator(user)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
