"""The web client's sign-in and sign-out (web/services.py, web/views.py): the session
cookie, CSRF, the API's lock-out and rate limits, the staff second factor by the API's
rule, and safe redirects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.test import Client
from knox.models import AuthToken

from accounts.api import LoginThrottle
from accounts.models import User
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD
from tests.support.two_factor import RECOVERY_CODES, confirmed_authenticator, current_code

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db
SIGN_IN = "/signin/"
CODE = "/signin/code/"


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")


def _csrf(browser: Client) -> str:
    browser.get(SIGN_IN)
    return str(browser.cookies["csrftoken"].value)


def _sign_in(browser: Client, username: str, password: str = TEST_PASSWORD, next_url: str = "") -> Response:
    token = _csrf(browser)
    body = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    if next_url:
        body["next"] = next_url
    return browser.post(SIGN_IN, body)


def test_pages_ask_for_sign_in_first(browser: Client) -> None:
    response = browser.get("/")
    assert response.status_code == 302 and response["Location"] == "/signin/?next=/"
    assert browser.get("/sessions/12/").status_code == 302


def test_a_participant_signs_in_with_a_session_cookie_and_calls_the_api_with_csrf(browser: Client, ava: User) -> None:
    response = _sign_in(browser, "ava")
    assert response.status_code == 302 and response["Location"] == "/"
    cookie = browser.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert browser.get("/").status_code == 200
    assert AuthToken.objects.count() == 0  # no bearer token for the browser
    assert browser.get("/api/v1/me/").json()["username"] == "ava"
    # A write with the cookie alone is refused: DRF's SessionAuthentication checks CSRF.
    assert browser.post("/api/v1/realtime/ticket/", content_type="application/json").status_code == 403
    ticket = browser.post(
        "/api/v1/realtime/ticket/", content_type="application/json", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )
    assert ticket.status_code == 200 and ticket.json()["ticket"]
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor_id == ava.pk and entry.data == {"via": "web"}


def test_a_form_post_without_the_csrf_token_is_refused(browser: Client, ava: User) -> None:
    browser.get(SIGN_IN)
    response = browser.post(SIGN_IN, {"username": "ava", "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert "sessionid" not in browser.cookies


def test_a_wrong_password_is_refused_and_audited_without_the_password(browser: Client, ava: User) -> None:
    response = _sign_in(browser, "ava", password="wrong-password-1")
    assert response.status_code == 400
    assert b"Wrong username or password." in response.content
    assert "sessionid" not in browser.cookies
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.data == {"username": "ava"}


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "ava"}, {"username": "a" * 151, "password": "x"}, {"username": "", "password": ""}],
)
def test_malformed_sign_ins_are_400_and_sign_no_one_in(browser: Client, ava: User, body: dict[str, str]) -> None:
    response = browser.post(SIGN_IN, {**body, "csrfmiddlewaretoken": _csrf(browser)})
    assert response.status_code == 400
    assert "sessionid" not in browser.cookies
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_five_wrong_passwords_lock_the_account_out_as_the_api_does(browser: Client, ava: User) -> None:
    for _ in range(5):
        _sign_in(browser, "ava", password="wrong-password-1")
    response = _sign_in(browser, "ava")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert b"Too many failed sign-ins" in response.content
    assert "sessionid" not in browser.cookies
    # The API's token endpoint is locked for her too.
    api = Client(REMOTE_ADDR="198.51.100.8").post(
        "/api/v1/auth/token/", {"username": "ava", "password": TEST_PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 429


def test_the_login_rate_limit_is_shared_with_the_api(
    browser: Client, ava: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates = {**LoginThrottle.THROTTLE_RATES, "login": "2/min"}
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", rates)
    token = _csrf(browser)
    browser.post(SIGN_IN, {"username": "ava", "password": "wrong-password-1", "csrfmiddlewaretoken": token})
    api = Client(REMOTE_ADDR="198.51.100.7").post(
        "/api/v1/auth/token/", {"username": "ava", "password": "wrong-password-1"}, content_type="application/json"
    )
    assert api.status_code == 401
    # The third attempt from this address, whichever door it used, is over the limit.
    response = browser.post(SIGN_IN, {"username": "ava", "password": TEST_PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "sessionid" not in browser.cookies


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_next_never_leaves_the_site(browser: Client, ava: User, target: str) -> None:
    response = _sign_in(browser, "ava", next_url=target)
    assert response.status_code == 302 and response["Location"] == "/"


def test_next_within_the_site_is_followed(browser: Client, ava: User) -> None:
    assert _sign_in(browser, "ava", next_url="/sessions/5/")["Location"] == "/sessions/5/"


# --- Staff second factor -----------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel("2026-11-24T12:00:00Z", tick=False) as traveller:
        yield traveller


def test_staff_give_their_authenticator_code_after_the_password(
    browser: Client, dana: User, clock: time_machine.Traveller
) -> None:
    device = confirmed_authenticator(dana)
    response = _sign_in(browser, "dana")
    assert response.status_code == 200 and b"Enter your code" in response.content
    assert browser.get("/").status_code == 302  # not signed in yet
    token = browser.cookies["csrftoken"].value
    wrong = browser.post(CODE, {"code": "000000", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 400 and b"That code is not right." in wrong.content
    assert AuditEntry.objects.filter(action="auth.login_failed", data__reason="otp_invalid").count() == 1
    clock.shift(5)  # past django-otp's back-off after a wrong code
    signed_in = browser.post(CODE, {"code": current_code(device), "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert browser.get("/api/v1/me/").json()["username"] == "dana"


def test_a_recovery_code_does_too_once(browser: Client, dana: User, clock: None) -> None:
    confirmed_authenticator(dana)
    _sign_in(browser, "dana")
    token = browser.cookies["csrftoken"].value
    assert browser.post(CODE, {"code": RECOVERY_CODES[0], "csrfmiddlewaretoken": token}).status_code == 302


def test_wrong_codes_lock_the_account_out(browser: Client, dana: User, clock: None) -> None:
    device = confirmed_authenticator(dana)
    _sign_in(browser, "dana")
    token = browser.cookies["csrftoken"].value
    for _ in range(5):
        browser.post(CODE, {"code": "000000", "csrfmiddlewaretoken": token})
    response = browser.post(CODE, {"code": current_code(device), "csrfmiddlewaretoken": token})
    assert response.status_code == 429
    assert browser.get("/").status_code == 302


def test_the_code_step_without_a_password_first_signs_no_one_in(browser: Client, dana: User) -> None:
    device = confirmed_authenticator(dana)
    response = browser.post(CODE, {"code": current_code(device), "csrfmiddlewaretoken": _csrf(browser)})
    assert response.status_code == 400 and b"Sign in again" in response.content
    assert browser.get("/").status_code == 302


def test_staff_without_an_authenticator_are_told_to_set_one_up(browser: Client, dana: User) -> None:
    response = _sign_in(browser, "dana")
    assert response.status_code == 400 and b"authenticator app" in response.content
    assert browser.get("/").status_code == 302


def test_demo_staff_sign_in_with_the_password_alone(browser: Client, dana: User, settings: object) -> None:
    settings.DEMO = True  # type: ignore[attr-defined]
    settings.STAFF_REQUIRE_2FA = False  # type: ignore[attr-defined]
    assert _sign_in(browser, "dana")["Location"] == "/"


# --- Sign-out and headers ----------------------------------------------------------------


def test_sign_out_is_a_post_and_ends_the_session(browser: Client, ava: User) -> None:
    _sign_in(browser, "ava")
    assert browser.get("/signout/").status_code == 405
    token = browser.cookies["csrftoken"].value
    response = browser.post("/signout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/signin/"
    assert browser.get("/api/v1/me/").status_code == 401
    assert AuditEntry.objects.filter(action="auth.logout", data__via="web").count() == 1


def test_every_page_carries_the_strict_csp_but_the_swagger_ui(browser: Client, ava: User) -> None:
    policy = browser.get(SIGN_IN)["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws://testserver" in policy
    _sign_in(browser, "ava")
    assert browser.get("/")["Content-Security-Policy"] == policy
    assert browser.get("/")["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in browser.get("/api/v1/me/")
    assert "Content-Security-Policy" not in browser.get("/api/docs/")


def test_the_pages_load_no_inline_script_or_style(browser: Client, ava: User) -> None:
    pages = [browser.get(SIGN_IN).content]
    _sign_in(browser, "ava")
    pages += [browser.get("/").content, browser.get("/sessions/1/").content]
    for page in pages:
        text = page.decode()
        assert "<script>" not in text and "<style" not in text and " style=" not in text and "onclick" not in text
        assert text.count("<script") == text.count('<script type="module" src="/static/')


def test_the_api_logout_needs_a_bearer_token_not_the_cookie(browser: Client, ava: User) -> None:
    _sign_in(browser, "ava")
    response = browser.post(
        "/api/v1/auth/logout/", content_type="application/json", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )
    assert response.status_code == 401
    assert browser.get("/api/v1/me/").status_code == 200
