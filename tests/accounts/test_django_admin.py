"""Admins manage users in the Django admin too; changes there are audited; the audit log,
guardian links and consents are read-only there."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import services
from accounts.models import User
from audit.models import AuditEntry
from tests.support.two_factor import admin_client_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    admin = services.create_user(by=None, username="root-admin", password="a-long-passphrase-2026", role="admin")
    # The admin asks staff for their second factor (tests/accounts/test_two_factor.py).
    return admin_client_with_second_factor(admin)


def test_admin_can_open_and_change_users_and_it_is_audited(admin_client: Client, sam: User) -> None:
    assert admin_client.get("/admin/accounts/user/").status_code == 200
    page = admin_client.get(f"/admin/accounts/user/{sam.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.update({"first_name": "Samuel", "date_joined_0": "2026-11-01", "date_joined_1": "10:00:00"})
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("password", None)
    response = admin_client.post(f"/admin/accounts/user/{sam.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    sam.refresh_from_db()
    assert sam.first_name == "Samuel"
    entry = AuditEntry.objects.filter(action="user.update").latest("seq")
    assert entry.data["via"] == "admin" and "first_name" in entry.data["fields"]


@pytest.mark.parametrize("path", ["/admin/audit/auditentry/add/", "/admin/accounts/consent/add/"])
def test_read_only_models_cannot_be_added(admin_client: Client, path: str) -> None:
    assert admin_client.get(path).status_code == 403


def test_participants_cannot_use_the_admin(sam: User) -> None:
    client = Client()
    client.force_login(sam)
    assert client.get("/admin/accounts/user/").status_code == 302  # to the admin login
