"""The attendance settings fail loudly at start when they make no sense."""

from __future__ import annotations

import pytest

from tests.processes import assert_setting_refused_at_start


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
    assert_setting_refused_at_start(name, value)
