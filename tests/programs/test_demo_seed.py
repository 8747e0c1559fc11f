"""seed_demo: the CONTRACT.md personas, programs and open sessions; a second run adds nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import demo as accounts_demo
from accounts.models import User
from programs.demo import DEMO_PROGRAMS
from programs.models import Enrollment
from server.demo import DemoRefused, run_seed_steps
from server.run import process_env
from sessions.models import Session, SessionStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_open_sessions_and_is_idempotent(db_snapshot: Callable[[], dict[str, int]]) -> None:
    call_command("seed_demo")
    first = db_snapshot()
    call_command("seed_demo")
    assert db_snapshot() == first

    people = {user.username: user for user in User.objects.all()}
    assert {"dana", "theo", "ava", "sam", "pat", "ada"} <= set(people)
    now = timezone.now()
    open_sessions = [s for s in Session.objects.filter(starts_at__lte=now) if s.status_at(now) == SessionStatus.OPEN]
    by_member = {entry.user.username: session for session in open_sessions for entry in session.roster.all()}
    assert set(by_member) == {"ava", "sam"}
    teen = by_member["ava"]
    assert now - teen.starts_at <= timedelta(minutes=5)
    assert teen.ends_at - teen.starts_at == timedelta(hours=3)
    assert {f.clinician.username: f.role for f in teen.facilitators.all()} == {"dana": "lead", "theo": "co"}
    assert by_member["sam"].facilitators.get().clinician.username == "dana"
    ava_enrollment = Enrollment.objects.get(participant=people["ava"])
    assert ava_enrollment.program.age_band == "adolescent" and ava_enrollment.program.level_of_care.code == "IOP"
    assert (timezone.localdate() - ava_enrollment.start_date).days == 21
    # Next weeks' schedule exists.
    assert Session.objects.filter(starts_at__gt=now + timedelta(days=7)).exists()


def _open_sessions() -> list[Session]:
    now = timezone.now()
    return [s for s in Session.objects.all() if s.status_at(now) == SessionStatus.OPEN]


def test_each_start_reopens_a_session_when_the_last_one_ended() -> None:
    call_command("seed_demo")
    # Every open session ends: the seeded ones and, at the demo groups' own hours, the
    # scheduled one in progress (ending only unscheduled ones made this test fail then).
    Session.objects.filter(pk__in=[s.pk for s in _open_sessions()]).update(ended_at=timezone.now())
    call_command("seed_demo")
    # One open session a demo group, none twice.
    assert sorted(s.title for s in _open_sessions()) == sorted(program[3] for program in DEMO_PROGRAMS)


def test_seed_demo_refuses_under_production_settings_and_creates_nothing(
    settings: Any, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, False
    before = db_snapshot()
    with pytest.raises(CommandError, match="production settings"):
        call_command("seed_demo")
    assert db_snapshot() == before
    assert not User.objects.filter(username__in=["ada", "dana", "theo"]).exists()


def test_demo_staff_accounts_are_refused_on_every_seeding_path_under_production_settings(settings: Any) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, False
    for seed in (accounts_demo.seed, run_seed_steps):
        with pytest.raises(DemoRefused):
            seed()
    assert not User.objects.exists()


def test_seed_demo_runs_under_production_settings_only_when_demo_is_explicit(settings: Any) -> None:
    settings.DEBUG, settings.HTTPS_ONLY, settings.DEMO = False, True, True
    call_command("seed_demo")
    assert User.objects.filter(username="ada", is_superuser=True).exists()


def test_make_run_marks_its_processes_as_a_demo() -> None:
    assert process_env({}, 8000)["DEMO"] == "1"
