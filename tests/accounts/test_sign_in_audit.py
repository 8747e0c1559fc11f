"""Sign-ins are audited on every path: the API's token endpoint and the Django admin's
login form, successes, failures and lock-outs, with the username but never the password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
ADMIN_LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(settings: Any) -> User:
    # The admin's second factor is tested in test_two_factor.py; here the password alone
    # signs in, as demo mode allows.
    settings.DEMO = True
    settings.STAFF_REQUIRE_2FA = False
    return UserFactory.create(username="root", admin=True, is_superuser=True)


def _admin_sign_in(username: str, password: str) -> Any:
    return Client(REMOTE_ADDR="203.0.113.9").post(ADMIN_LOGIN, {"username": username, "password": password})


def test_a_django_admin_sign_in_is_audited(staff: User) -> None:
    response = _admin_sign_in("root", TEST_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor_id == staff.pk and entry.target_id == str(staff.pk)
    assert entry.data == {"via": "admin"}
    assert entry.ip == "203.0.113.9"


@pytest.mark.parametrize(("username", "password"), [("root", "wrong-password-123"), ("nobody", TEST_PASSWORD)])
def test_a_failed_django_admin_sign_in_is_audited_without_the_password(
    staff: User, username: str, password: str
) -> None:
    response = _admin_sign_in(username, password)
    assert response.status_code == 200  # the login form again
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.data == {"username": username}
    assert entry.actor_id is None
    assert password not in str(entry.data)
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_a_django_admin_lock_out_is_audited(staff: User) -> None:
    for _ in range(5):
        _admin_sign_in("root", "wrong-password-123")
    locked = _admin_sign_in("root", TEST_PASSWORD)
    assert locked.status_code == 429
    assert AuditEntry.objects.filter(action="auth.login_failed").count() == 4
    assert AuditEntry.objects.filter(action="auth.login_locked_out").count() == 2  # the 5th failure, the 6th try
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_an_api_failure_is_audited_once(sam: User) -> None:
    """The API and the admin share one audit of failures (accounts/signals.py): never twice."""
    response = APIClient().post("/api/v1/auth/token/", {"username": "sam", "password": "nope-nope-nope"}, format="json")
    assert response.status_code == 401
    assert [e.action for e in AuditEntry.objects.all()] == ["auth.login_failed"]


def test_django_admin_sign_ins_with_a_second_factor_are_audited_right_or_wrong(db: None) -> None:
    """With the second factor required (the default), a wrong code at the admin's sign-in
    is audited as a failed sign-in, and the right one as a sign-in."""
    from tests.support.two_factor import confirmed_authenticator, current_code

    root = UserFactory.create(username="root", admin=True, is_superuser=True)
    device = confirmed_authenticator(root)
    wrong = "000000" if current_code(device) != "000000" else "111111"
    client = Client(REMOTE_ADDR="203.0.113.9")
    form = {"username": "root", "password": TEST_PASSWORD, "otp_device": device.persistent_id}
    assert client.post(ADMIN_LOGIN, {**form, "otp_token": wrong}).status_code == 200
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert failed.data == {"username": "root"} and wrong not in str(failed.data)
    # django-otp makes a device wait after a wrong code: the right one comes a minute later.
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        response = client.post(ADMIN_LOGIN, {**form, "otp_token": current_code(device)})
    assert response.status_code == 302
    assert AuditEntry.objects.get(action="auth.login").actor_id == root.pk


def test_a_django_admin_sign_out_is_audited(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    assert client.post("/admin/logout/").status_code == 200
    entry = AuditEntry.objects.get(action="auth.logout")
    assert entry.actor_id == staff.pk and entry.data == {"via": "admin"}
