"""``manage.py recompute_attendance``: the sessions of a date range, through the batch
statement; bad options refused with nothing written."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from attendance.models import AttendanceRecord
from sessions.models import Session
from tests.attendance.conftest import segment

pytestmark = pytest.mark.django_db(transaction=True)


def _run(*args: str) -> str:
    out = StringIO()
    call_command("recompute_attendance", *args, stdout=out)
    return out.getvalue()


def test_it_writes_the_records_of_the_sessions_in_the_range(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session()  # starts 2026-11-23 17:00 UTC
    segment(session, ava, 0, 90)
    assert _run("--since", "2026-11-24") == "Sessions: 0; attendance records written (new or changed): 0.\n"
    assert not AttendanceRecord.objects.exists()
    assert _run("--since", "2026-11-23", "--until", "2026-11-23", "--workers", "2", "--batch", "1") == (
        "Sessions: 1; attendance records written (new or changed): 2.\n"
    )
    assert AttendanceRecord.objects.get(session=session, user=ava).status == "attended"
    assert _run() == "Sessions: 1; attendance records written (new or changed): 0.\n"


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "2026-11-24", "--until", "2026-11-23"),
        ("--workers", "0"),
        ("--workers", "9"),
        ("--batch", "0"),
    ],
)
def test_bad_options_are_refused_and_write_nothing(
    ended_session: Callable[..., Session], args: tuple[str, ...]
) -> None:
    ended_session()
    with pytest.raises(CommandError):
        _run(*args)
    assert not AttendanceRecord.objects.exists()


def test_a_date_that_is_not_one_is_refused(ended_session: Callable[..., Session]) -> None:
    ended_session()
    with pytest.raises(CommandError):
        _run("--since", "yesterday")
    assert not AttendanceRecord.objects.exists()
