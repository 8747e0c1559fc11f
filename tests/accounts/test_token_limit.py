"""API_TOKEN_LIMIT_PER_USER: a sign-in past it is refused as knox's own LoginView refuses
(403, nothing issued), audited; a logout or an expiry frees a place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_otp.plugins.otp_static.models import StaticToken
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD
from tests.support.two_factor import RECOVERY_CODES, confirmed_authenticator

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"
LIMIT = 2
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def limit(settings) -> None:
    # pytest-django's settings fixture sends setting_changed: knox reloads its settings.
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": LIMIT}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def _sign_in(username: str, otp: str | None = None):
    body = {"username": username, "password": TEST_PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return APIClient().post(TOKEN_URL, body, format="json", REMOTE_ADDR="10.0.0.1")


def _fill(username: str) -> list[str]:
    tokens = []
    for _ in range(LIMIT):
        response = _sign_in(username)
        assert response.status_code == 200, response.json()
        tokens.append(response.json()["token"])
    return tokens


def test_the_sign_in_past_the_limit_is_refused_and_issues_nothing(
    sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    _fill("sam")
    before = db_snapshot()
    last_login = User.objects.get(pk=sam.pk).last_login
    response = _sign_in("sam")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "token_limit_reached"
    assert "Maximum amount of tokens" in error["message"]
    assert "logout" in error["message"]
    after = db_snapshot()
    # Only the refusal's audit entry is added: no token, no sign-in recorded.
    assert after.pop("audit_auditentry") == before.pop("audit_auditentry") + 1
    assert after == before
    assert AuthToken.objects.filter(user=sam).count() == LIMIT
    assert User.objects.get(pk=sam.pk).last_login == last_login
    refusal = AuditEntry.objects.get(action="auth.login_refused")
    assert (refusal.target_id, refusal.data) == (str(sam.pk), {"username": "sam", "reason": "token_limit"})
    assert AuditEntry.objects.filter(action="auth.login", actor=sam).count() == LIMIT


def test_after_a_logout_one_more_sign_in_is_allowed(sam: User) -> None:
    first, _ = _fill("sam")
    assert _sign_in("sam").status_code == 403
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    again = _sign_in("sam")
    assert again.status_code == 200, again.json()
    assert _sign_in("sam").status_code == 403
    assert AuthToken.objects.filter(user=sam).count() == LIMIT


def test_expired_tokens_do_not_count(sam: User, clock: time_machine.Traveller, settings) -> None:
    _fill("sam")
    clock.shift(settings.API_TOKEN_TTL - timedelta(seconds=1))
    assert _sign_in("sam").status_code == 403
    clock.shift(1)  # at its expiry a token no longer counts (nor authenticates)
    assert _sign_in("sam").status_code == 200


def test_the_limit_is_per_user(sam: User, ava: User) -> None:
    _fill("sam")
    assert _sign_in("ava").status_code == 200


def test_staff_at_the_limit_are_refused_before_a_recovery_code_is_used(
    dana: User, clock: time_machine.Traveller
) -> None:
    confirmed_authenticator(dana)
    for code in RECOVERY_CODES:
        assert _sign_in("dana", otp=code).status_code == 200
    assert not StaticToken.objects.filter(device__user=dana).exists()
    confirmed_authenticator(dana, recovery_codes=["cccc4444"])
    response = _sign_in("dana", otp="cccc4444")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "token_limit_reached")
    # The single-use code is still there for a sign-in that can succeed.
    assert StaticToken.objects.filter(device__user=dana, token="cccc4444").exists()


def test_no_limit_when_unset(sam: User, settings) -> None:
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": None}
    for _ in range(LIMIT + 1):
        assert _sign_in("sam").status_code == 200
