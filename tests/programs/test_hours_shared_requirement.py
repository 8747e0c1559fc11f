"""A program's week computes each distinct requirement once (programs.hours.weekly_hours_of
shares it between enrollments with the same dates and transitions): participants whose
enrollments differ still get their own."""

from __future__ import annotations

from datetime import date

import pytest

from accounts.models import User
from programs.hours import participant_weekly_hours, program_weekly_hours
from programs.models import CareTransition, Enrollment
from tests.factories import EnrollmentFactory, UserFactory, level_of_care, make_program

pytestmark = pytest.mark.django_db


def test_enrollments_that_differ_keep_their_own_requirement(dana: User) -> None:
    program = make_program(age_band="adult", level="IOP", time_zone="America/Chicago", clinicians=[dana])
    people = UserFactory.create_batch(5, role="participant", birth_date=date(1990, 1, 1))

    def enroll(person: User, **fields: object) -> Enrollment:
        fields.setdefault("start_date", date(2026, 9, 1))
        return EnrollmentFactory.create(participant=person, program=program, primary_clinician=dana, **fields)

    same, also_same, stepped_down, started_midweek, ended_midweek = people
    enroll(same)
    enroll(also_same)
    CareTransition.objects.create(
        enrollment=enroll(stepped_down),
        from_level=level_of_care("IOP"),
        to_level=level_of_care("OP"),
        effective_date=date(2026, 11, 26),  # Thursday of 2026-W48
        reason="Stepping down",
        clinician=dana,
    )
    enroll(started_midweek, start_date=date(2026, 11, 25))
    enroll(ended_midweek, ended_on=date(2026, 11, 24), status="completed")

    weeks = {hours.participant_id: hours for hours in program_weekly_hours(program=program, year=2026, week=48)}

    # Each one as its own week computes it, one participant at a time.
    for person in people:
        alone = participant_weekly_hours(participant=person, year=2026, week=48)
        assert alone is not None
        assert (weeks[person.pk].required_minutes, weeks[person.pk].level_of_care) == (
            alone.required_minutes,
            alone.level_of_care,
        )
    required = {person: weeks[person.pk].required_minutes for person in people}
    assert required[same] == required[also_same]
    assert len({required[same], required[stepped_down], required[started_midweek], required[ended_midweek]}) == 4
    assert weeks[stepped_down.pk].level_of_care == "OP"
