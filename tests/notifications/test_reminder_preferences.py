"""A person chooses their session reminders in the notification preferences: which of the
configured offsets (none turns them off), and the email channel per kind as before. Bad
input is a 400 that changes nothing. The reminder settings refuse nonsense at start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts.models import User
from notifications.models import NotificationSettings
from server.envtools import env_int_list, public_base_url
from tests.processes import BASE_DIR, assert_setting_refused_at_start
from tests.server.test_deploy_check import _production_env

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/preferences/"
Clients = Callable[[User], APIClient]


def _patch(client: APIClient, body: object) -> dict:
    response = client.patch(URL, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_reminders_default_to_every_configured_offset(client_for: Clients, sam: User) -> None:
    body = client_for(sam).get(URL).json()
    assert body["reminders"] == {"minutes_before": [1440, 60], "choices": [1440, 60]}
    assert body["kinds"]["session_reminder"] == {"in_app": True, "email": True}


def test_a_person_keeps_some_reminders_none_or_goes_back_to_the_default(client_for: Clients, sam: User) -> None:
    client = client_for(sam)
    assert _patch(client, {"reminders": {"minutes_before": [60]}})["reminders"]["minutes_before"] == [60]
    assert NotificationSettings.objects.get(user=sam).reminder_offsets_minutes == [60]
    assert _patch(client, {"reminders": {"minutes_before": []}})["reminders"]["minutes_before"] == []
    # Other preferences are left as they were.
    both = _patch(client, {"quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert both["reminders"]["minutes_before"] == [] and both["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert _patch(client, {"reminders": {"minutes_before": None}})["reminders"]["minutes_before"] == [1440, 60]
    assert NotificationSettings.objects.get(user=sam).reminder_offsets_minutes is None
    email_off = _patch(client, {"kinds": {"session_reminder": {"email": False}}})
    assert email_off["kinds"]["session_reminder"]["email"] is False


@pytest.mark.parametrize(
    "reminders",
    [
        {"minutes_before": [30]},  # not one of the configured offsets
        {"minutes_before": [60, 60]},
        {"minutes_before": [0]},
        {"minutes_before": [-60]},
        {"minutes_before": [10081]},
        {"minutes_before": [2**63]},
        {"minutes_before": ["sixty"]},
        {"minutes_before": [60.5]},
        {"minutes_before": "60"},
        {"minutes_before": {"60": True}},
        {"minutes_before": [60] * 11},
        {},
        [60],
        "off",
        None,
    ],
)
def test_bad_reminder_preferences_are_400_and_change_nothing(
    reminders: object, client_for: Clients, sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(sam)
    _patch(client, {"reminders": {"minutes_before": [1440]}})
    before, counts = client.get(URL).json(), db_snapshot()
    response = client.patch(URL, {"reminders": reminders}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid" and "reminders" in response.json()["error"]["fields"]
    assert client.get(URL).json() == before and db_snapshot() == counts
    assert NotificationSettings.objects.get(user=sam).reminder_offsets_minutes == [1440]


def test_preferences_need_a_sign_in(api: APIClient) -> None:
    assert api.patch(URL, {"reminders": {"minutes_before": []}}, format="json").status_code == 401


def test_env_readers() -> None:
    assert public_base_url("https://care.example.org/") == "https://care.example.org"
    assert public_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    for bad in (
        "care.example.org",
        "ftp://care.example.org",
        "https://care.example.org/app",
        "https://",
        "https://x/?a",
    ):
        with pytest.raises(ImproperlyConfigured):
            public_base_url(bad)
    os.environ["TEST_INT_LIST"] = "1440, 60,"
    try:
        assert env_int_list("TEST_INT_LIST", [5]) == [1440, 60]
        os.environ["TEST_INT_LIST"] = "1440,soon"
        with pytest.raises(ImproperlyConfigured):
            env_int_list("TEST_INT_LIST", [5])
    finally:
        del os.environ["TEST_INT_LIST"]
    assert env_int_list("TEST_INT_LIST", [5]) == [5]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_REMINDER_OFFSETS_MINUTES", "1440,0"),
        ("SESSION_REMINDER_OFFSETS_MINUTES", "a day"),
        ("SESSION_REMINDER_OFFSETS_MINUTES", "20000"),
        ("SESSION_REMINDER_LATE_MINUTES", "0"),
        ("PUBLIC_BASE_URL", "iop.example.org"),
    ],
)
def test_nonsense_reminder_settings_refuse_to_start(name: str, value: str) -> None:
    assert_setting_refused_at_start(name, value)


@pytest.mark.parametrize(
    ("public_base_url", "problem"),
    [
        (None, "points at this machine"),  # the default, http://127.0.0.1:$PORT
        ("https://elsewhere.example.org", "not in ALLOWED_HOSTS"),
        ("http://iop.example.org", "not https"),
    ],
)
def test_check_deploy_warns_when_email_links_would_fail(public_base_url: str | None, problem: str) -> None:
    env = {**os.environ, **_production_env()}
    if public_base_url is None:
        del env["PUBLIC_BASE_URL"]
    else:
        env["PUBLIC_BASE_URL"] = public_base_url
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "iop.W002" in output and problem in output
