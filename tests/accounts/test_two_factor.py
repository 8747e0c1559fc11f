"""Staff (clinicians, admins) sign in with a second factor: TOTP (django-otp) with
single-use recovery codes, at API sign-in and in the Django admin. Demo staff may sign in
with the password alone under DEMO=1 only; participants and guardians are never asked."""

from __future__ import annotations

import os
import subprocess
import sys
from base64 import b32decode, b32encode
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from audit import services as audit
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD
from tests.support.two_factor import (
    RECOVERY_CODES,
    admin_client_with_second_factor,
    confirmed_authenticator,
    current_code,
)

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
TOKEN_URL = "/api/v1/auth/token/"
TOTP_URL = "/api/v1/auth/totp/"
CONFIRM_URL = "/api/v1/auth/totp/confirm/"
DISABLE_URL = "/api/v1/auth/totp/disable/"
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEMO_EXEMPT = {"DEMO": True, "STAFF_REQUIRE_2FA": False}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def _sign_in(
    api: APIClient, username: str, otp: str | None = None, password: str = TEST_PASSWORD, ip: str = "10.0.0.1"
):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return api.post(TOKEN_URL, body, format="json", REMOTE_ADDR=ip)


def _error_code(response) -> str:
    return response.json()["error"]["code"]


def _audit_dump() -> str:
    return " ".join(str(entry.data) for entry in AuditEntry.objects.all())


def _code_for_secret(secret: str) -> str:
    return f"{totp(b32decode(secret)):06d}"


# --- Enrolment ---------------------------------------------------------------------------


def test_signed_in_staff_enrol_confirm_and_then_sign_in_with_a_code(
    api: APIClient, dana: User, client_for: Clients, clock: time_machine.Traveller
) -> None:
    dana_api = client_for(dana)
    started = dana_api.post(TOTP_URL, {}, format="json")
    assert started.status_code == 201, started.json()
    enrolment = started.json()
    uri = urlparse(enrolment["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [enrolment["secret"]]
    assert parse_qs(uri.query)["issuer"] == [settings.OTP_TOTP_ISSUER]
    # Not confirmed yet: it does not count as a second factor.
    assert TOTPDevice.objects.get(user=dana).confirmed is False
    assert _error_code(_sign_in(api, "dana")) == "otp_enrolment_required"

    clock.shift(30)
    confirmed = dana_api.post(CONFIRM_URL, {"code": _code_for_secret(enrolment["secret"])}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=dana).confirmed is True

    missing = _sign_in(api, "dana")
    assert missing.status_code == 401
    assert _error_code(missing) == "otp_required"
    clock.shift(30)
    signed_in = _sign_in(api, "dana", otp=_code_for_secret(enrolment["secret"]))
    assert signed_in.status_code == 200, signed_in.json()
    login = AuditEntry.objects.filter(action="auth.login", actor=dana).latest("seq")
    assert login.data == {"second_factor": "totp"}

    actions = list(AuditEntry.objects.filter(actor=dana).values_list("action", flat=True))
    assert actions[:2] == ["auth.totp_start", "auth.totp_confirm"]
    # Neither the secret nor any code reaches the audit log.
    dump = _audit_dump()
    assert enrolment["secret"] not in dump and not any(code in dump for code in codes)


def test_staff_without_an_authenticator_are_refused_a_token_and_enrol_with_their_password(
    api: APIClient, dana: User, clock: time_machine.Traveller, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    refused = _sign_in(api, "dana")
    assert refused.status_code == 403
    assert _error_code(refused) == "otp_enrolment_required"
    assert not AuthToken.objects.filter(user=dana).exists()
    assert AuditEntry.objects.filter(action="auth.login_refused", target_id=str(dana.pk)).exists()

    # The enrolment path checks the password like a sign-in: wrong is a 401 and changes nothing.
    before = db_snapshot()
    wrong = api.post(TOTP_URL, {"username": "dana", "password": "not-her-password"}, format="json")
    assert wrong.status_code == 401
    after = db_snapshot()
    assert after.pop("audit_auditentry") == before.pop("audit_auditentry") + 1  # auth.login_failed
    assert after == before
    assert api.post(TOTP_URL, {}, format="json").status_code == 401

    started = api.post(TOTP_URL, {"username": "dana", "password": TEST_PASSWORD}, format="json")
    assert started.status_code == 201, started.json()
    secret = started.json()["secret"]
    confirmed = api.post(
        CONFIRM_URL,
        {"username": "dana", "password": TEST_PASSWORD, "code": _code_for_secret(secret)},
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.json()
    clock.shift(30)
    assert _sign_in(api, "dana", otp=_code_for_secret(secret)).status_code == 200


def test_a_confirmed_authenticator_cannot_be_replaced_with_the_password_alone(api: APIClient, dana: User) -> None:
    device = confirmed_authenticator(dana)
    response = api.post(TOTP_URL, {"username": "dana", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 409
    assert _error_code(response) == "otp_already_enabled"
    assert list(TOTPDevice.objects.filter(user=dana)) == [device]


@pytest.mark.parametrize("body", [{"code": "000000"}, {"code": 123456}, {}, {"code": "1" * 40}])
def test_a_wrong_or_malformed_confirmation_code_is_400_and_confirms_nothing(
    dana: User, client_for: Clients, clock: time_machine.Traveller, body: dict
) -> None:
    dana_api = client_for(dana)
    secret = dana_api.post(TOTP_URL, {}, format="json").json()["secret"]
    if body.get("code") == "000000" and _code_for_secret(secret) == "000000":
        body = {"code": "000001"}
    response = dana_api.post(CONFIRM_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]
    assert TOTPDevice.objects.get(user=dana).confirmed is False
    assert not StaticDevice.objects.filter(user=dana).exists()


def test_confirming_without_starting_is_409(dana: User, client_for: Clients) -> None:
    response = client_for(dana).post(CONFIRM_URL, {"code": "123456"}, format="json")
    assert response.status_code == 409
    assert _error_code(response) == "otp_enrolment_not_started"


# --- Sign-in -----------------------------------------------------------------------------


def test_wrong_codes_count_as_failed_logins_and_lock_the_account_out(
    api: APIClient, dana: User, clock: time_machine.Traveller
) -> None:
    device = confirmed_authenticator(dana)
    right = current_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    # As with wrong passwords, the fifth failure is answered with the lock-out itself.
    responses = [_sign_in(api, "dana", otp=wrong, ip=f"10.1.0.{n}") for n in range(settings.AXES_FAILURE_LIMIT)]
    assert [r.status_code for r in responses] == [401, 401, 401, 401, 429]
    assert _error_code(responses[0]) == "otp_invalid"
    # The password and even the right code no longer open the account until the cool-off.
    locked = _sign_in(api, "dana", otp=right, ip="10.2.0.1")
    assert locked.status_code == 429
    assert not AuthToken.objects.filter(user=dana).exists()
    failures = AuditEntry.objects.filter(action="auth.login_failed", target_id=str(dana.pk))
    assert failures.count() == settings.AXES_FAILURE_LIMIT
    assert failures.earliest("seq").data == {"username": "dana", "reason": "otp_invalid"}
    assert wrong not in _audit_dump()


def test_a_recovery_code_works_once(api: APIClient, dana: User, clock: time_machine.Traveller) -> None:
    confirmed_authenticator(dana)
    first = _sign_in(api, "dana", otp=RECOVERY_CODES[0].upper())
    assert first.status_code == 200, first.json()
    login = AuditEntry.objects.filter(action="auth.login", actor=dana).latest("seq")
    assert login.data == {"second_factor": "recovery_code"}
    again = _sign_in(api, "dana", otp=RECOVERY_CODES[0])
    assert again.status_code == 401
    assert _error_code(again) == "otp_invalid"
    assert list(StaticToken.objects.filter(device__user=dana).values_list("token", flat=True)) == [RECOVERY_CODES[1]]


def test_a_totp_code_cannot_be_replayed(api: APIClient, dana: User, clock: time_machine.Traveller) -> None:
    device = confirmed_authenticator(dana)
    code = current_code(device)
    assert _sign_in(api, "dana", otp=code).status_code == 200
    assert _error_code(_sign_in(api, "dana", otp=code)) == "otp_invalid"


def test_the_wrong_password_with_a_right_code_is_still_refused(
    api: APIClient, dana: User, clock: time_machine.Traveller
) -> None:
    device = confirmed_authenticator(dana)
    response = _sign_in(api, "dana", otp=current_code(device), password="not-her-password")
    assert response.status_code == 401
    assert _error_code(response) == "not_authenticated"


@pytest.mark.parametrize("otp", [123456, ["123456"], "x" * 33])
def test_a_mistyped_otp_is_400(api: APIClient, dana: User, otp: object) -> None:
    confirmed_authenticator(dana)
    response = api.post(TOKEN_URL, {"username": "dana", "password": TEST_PASSWORD, "otp": otp}, format="json")
    assert response.status_code == 400
    assert "otp" in response.json()["error"]["fields"]


@pytest.mark.parametrize("persona", ["ava", "sam", "pat"])
def test_participants_and_guardians_sign_in_with_the_password_alone(
    api: APIClient, persona: str, request: pytest.FixtureRequest, client_for: Clients
) -> None:
    user = request.getfixturevalue(persona)
    response = _sign_in(api, persona)
    assert response.status_code == 200, response.json()
    login = AuditEntry.objects.filter(action="auth.login", actor=user).latest("seq")
    assert login.data == {}
    # They have no authenticator to set up here.
    assert client_for(user).post(TOTP_URL, {}, format="json").status_code == 403
    assert not TOTPDevice.objects.filter(user=user).exists()


@pytest.mark.parametrize("persona", ["dana", "ada"])
def test_both_staff_roles_need_the_second_factor(
    api: APIClient, persona: str, request: pytest.FixtureRequest, clock: time_machine.Traveller
) -> None:
    device = confirmed_authenticator(request.getfixturevalue(persona))
    assert _error_code(_sign_in(api, persona)) == "otp_required"
    assert _sign_in(api, persona, otp=current_code(device)).status_code == 200


# --- Disabling ---------------------------------------------------------------------------


def test_disabling_needs_a_current_code(dana: User, client_for: Clients, clock: time_machine.Traveller) -> None:
    device = confirmed_authenticator(dana)
    dana_api = client_for(dana)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    refused = dana_api.post(DISABLE_URL, {"code": wrong}, format="json")
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=dana, confirmed=True).exists()
    assert dana_api.post(DISABLE_URL, {}, format="json").status_code == 400

    # django-otp throttles a device after a failure; a later, right code goes through.
    clock.shift(60)
    done = dana_api.post(DISABLE_URL, {"code": current_code(device)}, format="json")
    assert done.status_code == 204
    assert not TOTPDevice.objects.filter(user=dana).exists()
    assert not StaticDevice.objects.filter(user=dana).exists()
    entry = AuditEntry.objects.get(action="auth.totp_disable")
    assert entry.actor == dana and entry.data == {"proved_with": "totp"}
    # Required: the next sign-in asks to enrol again.
    assert _error_code(_sign_in(APIClient(), "dana")) == "otp_enrolment_required"
    assert dana_api.post(DISABLE_URL, {"code": "123456"}, format="json").status_code == 409


def test_disabling_needs_a_signed_in_user(api: APIClient, dana: User) -> None:
    confirmed_authenticator(dana)
    assert api.post(DISABLE_URL, {"code": RECOVERY_CODES[0]}, format="json").status_code == 401
    assert TOTPDevice.objects.filter(user=dana).exists()


# --- Demo mode ---------------------------------------------------------------------------


@override_settings(**DEMO_EXEMPT)
def test_demo_staff_sign_in_with_the_password_alone_under_demo(api: APIClient, dana: User, ada: User) -> None:
    assert _sign_in(api, "dana").status_code == 200
    assert _sign_in(api, "ada").status_code == 200


@override_settings(**DEMO_EXEMPT)
def test_demo_staff_who_set_up_an_authenticator_still_give_its_code(
    api: APIClient, dana: User, clock: time_machine.Traveller
) -> None:
    device = confirmed_authenticator(dana)
    assert _error_code(_sign_in(api, "dana")) == "otp_required"
    assert _sign_in(api, "dana", otp=current_code(device)).status_code == 200


@pytest.mark.parametrize(
    "overrides", [{"DEMO": False, "STAFF_REQUIRE_2FA": False}, {"DEMO": True, "STAFF_REQUIRE_2FA": True}, {}]
)
def test_staff_without_an_authenticator_are_refused_outside_the_demo_exemption(
    api: APIClient, dana: User, overrides: dict
) -> None:
    with override_settings(**overrides):
        assert _error_code(_sign_in(api, "dana")) == "otp_enrolment_required"


def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print(settings.STAFF_REQUIRE_2FA)"
    base = {k: v for k, v in os.environ.items() if k not in ("DEMO", "STAFF_REQUIRE_2FA")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "server.settings", **env},
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_allow_turning_the_second_factor_off_only_in_demo_mode() -> None:
    refused = _settings_in_subprocess({"STAFF_REQUIRE_2FA": "0"})
    assert refused.returncode != 0
    assert "STAFF_REQUIRE_2FA=0 is allowed only with DEMO=1" in refused.stderr
    assert _settings_in_subprocess({}).stdout.strip() == "True"
    # Demo mode (make run) turns it off by default.
    assert _settings_in_subprocess({"DEMO": "1"}).stdout.strip() == "False"


# --- Django admin ------------------------------------------------------------------------


def _admin_login(client: Client, user: User, **otp: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": TEST_PASSWORD, **otp},
        REMOTE_ADDR="10.0.0.9",
    )


def test_the_admin_needs_the_second_factor(ada: User, clock: time_machine.Traveller) -> None:
    device = confirmed_authenticator(ada)
    # Signed in by password alone (as the stock admin would) is not enough.
    password_only = Client()
    password_only.force_login(ada)
    assert password_only.get("/admin/").status_code == 302

    client = Client()
    without_code = _admin_login(client, ada)
    assert without_code.status_code == 200  # the login form again, with an error
    assert client.get("/admin/").status_code == 302

    signed_in = _admin_login(client, ada, otp_device=device.persistent_id, otp_token=current_code(device))
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_accepts_a_recovery_code(ada: User) -> None:
    confirmed_authenticator(ada)
    recovery = StaticDevice.objects.get(user=ada)
    client = Client()
    response = _admin_login(client, ada, otp_device=recovery.persistent_id, otp_token=RECOVERY_CODES[1])
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert not StaticToken.objects.filter(device=recovery, token=RECOVERY_CODES[1]).exists()


def test_an_admin_without_an_authenticator_cannot_use_the_admin(ada: User) -> None:
    client = Client()
    response = _admin_login(client, ada)
    assert response.status_code == 200
    assert b"/api/v1/auth/totp/" in response.content
    assert client.get("/admin/").status_code == 302


def test_wrong_admin_codes_count_for_the_lock_out(ada: User, clock: time_machine.Traveller) -> None:
    device = confirmed_authenticator(ada)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        clock.shift(120)  # past django-otp's own per-device throttle
        _admin_login(Client(), ada, otp_device=device.persistent_id, otp_token=wrong)
    clock.shift(120)
    client = Client()
    locked = _admin_login(client, ada, otp_device=device.persistent_id, otp_token=current_code(device))
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302


@override_settings(**DEMO_EXEMPT)
def test_demo_admin_without_an_authenticator_uses_the_admin_with_the_password(ada: User) -> None:
    client = Client()
    assert _admin_login(client, ada).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_verified_admin_client_helper_passes_the_admin(ada: User) -> None:
    assert admin_client_with_second_factor(ada).get("/admin/").status_code == 200


def test_admins_see_devices_without_secrets_add_none_and_reset_one_audited(dana: User) -> None:
    root = services.create_user(by=None, username="root-admin", password="a-long-passphrase-2026", role="admin")
    client = admin_client_with_second_factor(root)
    device = confirmed_authenticator(dana)
    recovery = StaticDevice.objects.get(user=dana)
    pages = [
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_static/staticdevice/{recovery.pk}/change/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        content = response.content.decode()
        assert device.key not in content and b32encode(device.bin_key).decode() not in content
        assert not any(code in content for code in RECOVERY_CODES)
    # No admin hands out a code for someone else.
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    assert client.get("/admin/otp_static/staticdevice/add/").status_code == 403
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/").status_code in (302, 404)

    # A lost phone: deleting the device resets the person's second factor, audited.
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=dana).exists()
    assert not StaticDevice.objects.filter(user=dana).exists()
    entry = AuditEntry.objects.get(action="auth.totp_reset")
    assert entry.actor == root and entry.target_id == str(dana.pk)
    assert _error_code(_sign_in(APIClient(), "dana")) == "otp_enrolment_required"


@pytest.mark.parametrize("key", ["otp", "recovery_codes", "secret"])
def test_the_audit_log_refuses_second_factor_secrets(key: str) -> None:
    with pytest.raises(ValueError):
        audit.record(actor=None, action="x", data={key: "123456"})
