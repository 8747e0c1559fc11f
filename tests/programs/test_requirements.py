"""Levels of care as data, and the weekly requirement with its proration rule."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from accounts.models import User
from programs.models import CareTransition, Enrollment, LevelOfCare
from programs.selectors import level_on, parse_iso_week, weekly_requirement
from tests.factories import make_program

pytestmark = pytest.mark.django_db


def _enroll(participant: User, clinician: User, *, age_band: str, start: date, **program_extra: Any) -> Enrollment:
    program = make_program(age_band=age_band, **program_extra)
    return Enrollment.objects.create(
        participant=participant,
        program=program,
        start_date=start,
        planned_end_date=date(2027, 3, 1),
        primary_clinician=clinician,
        medically_stable=True,
        detox_status="not_needed",
        stable_living_situation=True,
        able_to_attend=True,
        created_by=clinician,
    )


def test_levels_of_care_are_seeded_from_clinical_rules() -> None:
    levels = {level.code: level for level in LevelOfCare.objects.all()}
    assert list(levels) == ["OP", "IOP", "PHP"]
    assert levels["IOP"].adult_min_weekly_minutes == 9 * 60
    assert levels["IOP"].adolescent_min_weekly_minutes == 6 * 60
    assert levels["IOP"].adult_max_weekly_minutes == 19 * 60
    assert levels["PHP"].adult_min_weekly_minutes == 20 * 60
    assert levels["PHP"].adult_max_weekly_minutes is None
    assert (levels["OP"].adolescent_max_weekly_minutes or 0) < 6 * 60


def test_full_week_requirement_by_age_band(sam: User, ava: User, dana: User) -> None:
    adult = _enroll(sam, dana, age_band="adult", start=date(2026, 11, 1))
    teen = _enroll(ava, dana, age_band="adolescent", start=date(2026, 11, 1))
    assert weekly_requirement(adult, 2026, 48).min_minutes == 540
    assert weekly_requirement(adult, 2026, 48).max_minutes == 1140
    assert weekly_requirement(teen, 2026, 48).min_minutes == 360


def test_program_override_raises_the_minimum(sam: User, dana: User) -> None:
    enrollment = _enroll(sam, dana, age_band="adult", start=date(2026, 11, 1), min_weekly_minutes_override=600)
    assert weekly_requirement(enrollment, 2026, 48).min_minutes == 600


def test_week_with_a_step_down_is_prorated_by_day(sam: User, dana: User) -> None:
    enrollment = _enroll(sam, dana, age_band="adult", start=date(2026, 11, 1))
    op = LevelOfCare.objects.get(code="OP")
    # 2026-W48 runs Monday 23 to Sunday 29 November; OP from Thursday 26.
    CareTransition.objects.create(
        enrollment=enrollment,
        from_level=enrollment.program.level_of_care,
        to_level=op,
        effective_date=date(2026, 11, 26),
        reason="Stable, stepping down",
        clinician=dana,
    )
    requirement = weekly_requirement(enrollment, 2026, 48)
    assert requirement.levels == ["IOP", "IOP", "IOP", "OP", "OP", "OP", "OP"]
    # 3 x 540/7 + 4 x 60/7 = 265.71 -> 266
    assert requirement.min_minutes == 266
    assert level_on(enrollment, date(2026, 11, 25)).code == "IOP"
    assert level_on(enrollment, date(2026, 11, 26)).code == "OP"
    # The next full week is all OP.
    assert weekly_requirement(enrollment, 2026, 49).min_minutes == 60


def test_enrollment_starting_mid_week_is_prorated(sam: User, dana: User) -> None:
    enrollment = _enroll(sam, dana, age_band="adult", start=date(2026, 11, 25))  # a Wednesday
    requirement = weekly_requirement(enrollment, 2026, 48)
    assert requirement.levels[:2] == ["", ""]
    assert requirement.min_minutes == round(5 * 540 / 7)


@pytest.mark.parametrize("text", ["", "2026-48", "2026-W4", "2026-W99", "abcd-Wxy", "2026-W00", "2025-W53"])
def test_bad_iso_weeks_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_week(text)


def test_iso_week_with_53_weeks() -> None:
    assert parse_iso_week("2026-W53") == (2026, 53)
