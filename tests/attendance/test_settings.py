"""The attendance settings fail loudly at start when they make no sense."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import BASE_DIR


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ATTENDANCE_PARTIAL_BELOW_PERCENT", "150"),
        ("ATTENDANCE_PARTIAL_BELOW_PERCENT", "-1"),
        ("ATTENDANCE_LATE_MINUTES", "-5"),
        ("ATTENDANCE_EARLY_JOIN_MINUTES", "ten"),
    ],
)
def test_nonsense_attendance_settings_refuse_to_start(name: str, value: str) -> None:
    env = {**os.environ, name: value, "DJANGO_SETTINGS_MODULE": "server.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
