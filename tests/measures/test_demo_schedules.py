"""seed_demo gives the demo programs a weekly questionnaire schedule, so ava (PHQ-A) and sam
(PHQ-9 and GAD-7) each have one due and have been told so; a second run adds nothing and a
schedule an admin changed since is left as it is."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import User
from measures.models import InstrumentSchedule
from measures.schedule import due_for
from notifications.models import Notification
from programs.models import Program

pytestmark = pytest.mark.django_db

# A Tuesday morning in New York, between the demo groups (as tests/programs/test_demo_seed.py).
BETWEEN_GROUPS = datetime(2026, 12, 8, 15, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture(autouse=True)
def _between_groups() -> Iterator[None]:
    with time_machine.travel(BETWEEN_GROUPS, tick=True):
        yield


def schedules() -> dict[str, list[tuple[str, bool, int]]]:
    rows = InstrumentSchedule.objects.values_list("program__name", "instrument__code", "at_intake", "every_days")
    result: dict[str, list[tuple[str, bool, int]]] = {}
    for program, code, at_intake, every_days in rows.order_by("program__name", "instrument__code"):
        result.setdefault(program, []).append((code, at_intake, every_days))
    return result


def test_the_demo_programs_give_weekly_questionnaires_due_now(db_snapshot: Callable[[], dict[str, int]]) -> None:
    call_command("seed_demo")
    assert schedules() == {
        "Adolescent IOP": [("phqa", True, 7)],
        "Adult IOP": [("gad7", True, 7), ("phq9", True, 7)],
    }
    ava, sam = User.objects.get(username="ava"), User.objects.get(username="sam")
    assert [due.instrument.code for due in due_for(participant=ava)] == ["phqa"]
    assert sorted(due.instrument.code for due in due_for(participant=sam)) == ["gad7", "phq9"]
    told = Notification.objects.filter(kind="questionnaire_due")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["ava", "sam", "sam"]
    assert {notification.data["link"] for notification in told} == {"/questionnaires/"}

    first = db_snapshot()
    call_command("seed_demo")
    assert db_snapshot() == first


def test_a_schedule_an_admin_changed_is_kept() -> None:
    call_command("seed_demo")
    InstrumentSchedule.objects.filter(program=Program.objects.get(name="Adult IOP"), instrument__code="gad7").delete()
    call_command("seed_demo")
    assert schedules()["Adult IOP"] == [("phq9", True, 7)]
