"""The client address behind TRUSTED_PROXY_COUNT proxies: one derivation for the login
lock-out (django-axes), the login and API throttles and the audit log. With no trusted
proxy, X-Forwarded-For is ignored; with one, each client behind the proxy is its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.api import LoginThrottle
from accounts.models import User
from audit.models import AuditEntry
from server.client_address import client_ip
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db
TOKEN_URL = "/api/v1/auth/token/"
PROXY = "10.0.0.2"


def _login(username: str, password: str, *, forwarded: str | None = None, peer: str = PROXY) -> Any:
    meta: dict[str, Any] = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", **meta)


@pytest.fixture
def login_rate_3_a_minute() -> Iterator[None]:
    original = LoginThrottle.THROTTLE_RATES
    LoginThrottle.THROTTLE_RATES = {**original, "login": "3/min"}
    yield
    LoginThrottle.THROTTLE_RATES = original


@pytest.fixture
def one_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1


# --- No trusted proxy (the default): the header is the client's to forge ------------------


def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_login_rate_limit(
    sam: User, login_rate_3_a_minute: None
) -> None:
    codes = [_login("sam", "wrong-password", forwarded=f"198.51.100.{n}").status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_lock_out(sam: User) -> None:
    codes = [_login(f"someone{n}", "wrong-password", forwarded=f"198.51.100.{n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert _login("sam", TEST_PASSWORD, forwarded="198.51.100.99").status_code == 429


def test_without_a_proxy_the_audit_records_the_peer_address(sam: User) -> None:
    _login("sam", "wrong-password", forwarded="198.51.100.7", peer="192.0.2.5")
    assert AuditEntry.objects.get(action="auth.login_failed").ip == "192.0.2.5"


# --- One trusted proxy: REMOTE_ADDR is the proxy, the client is the entry it appended ------


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_another(sam: User, one_proxy: None) -> None:
    codes = [_login(f"someone{n}", "wrong-password", forwarded="198.51.100.1").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert _login("sam", TEST_PASSWORD, forwarded="198.51.100.1").status_code == 429
    assert _login("sam", TEST_PASSWORD, forwarded="198.51.100.2").status_code == 200


def test_behind_a_proxy_clients_are_rate_limited_separately(
    sam: User, one_proxy: None, login_rate_3_a_minute: None
) -> None:
    first = [_login("sam", "wrong-password", forwarded="198.51.100.1").status_code for _ in range(4)]
    assert first == [401, 401, 401, 429]
    assert _login("sam", "wrong-password", forwarded="198.51.100.2").status_code == 401


def test_behind_a_proxy_a_forged_entry_left_of_the_proxys_does_not_escape_the_rate_limit(
    sam: User, one_proxy: None, login_rate_3_a_minute: None
) -> None:
    codes = [_login("sam", "wrong-password", forwarded=f"203.0.113.{n}, 198.51.100.1").status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_behind_a_proxy_the_audit_records_the_client_address(sam: User, one_proxy: None) -> None:
    _login("sam", "wrong-password", forwarded="203.0.113.66, 198.51.100.7")
    assert AuditEntry.objects.get(action="auth.login_failed").ip == "198.51.100.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "192.0.2.5"),  # ignored without a trusted proxy
        (1, None, "192.0.2.5"),  # reached directly: nothing appended
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "forged, 198.51.100.1", "198.51.100.1"),
        (2, "198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "192.0.2.5"),  # fewer hops than proxies: none trusted
        (1, "not-an-address", "192.0.2.5"),  # a wrong count: only the peer is known
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_client_ip(settings: Any, proxies: int, forwarded: str | None, expected: str) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    meta: dict[str, Any] = {"REMOTE_ADDR": "192.0.2.5"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


def test_deploy_check_warns_behind_a_tls_proxy_with_no_trusted_proxy(settings: Any) -> None:
    """deploy/production.env.example sets both (tests/server/test_deploy_check.py)."""
    from django.core.checks import run_checks

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_COUNT = 0
    assert "iop.W001" in [message.id for message in run_checks(include_deployment_checks=True)]
    settings.TRUSTED_PROXY_COUNT = 1
    assert "iop.W001" not in [message.id for message in run_checks(include_deployment_checks=True)]
