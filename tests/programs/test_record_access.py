"""Who may see a participant's attendance and weekly hours (issue 21, item 3).

A guardian sees an adolescent's attendance only while the adolescent's consent in force
names ``attendance``, and their hours only while it names ``hours``: a consent that shares
the schedule shares neither (CLINICAL.md; 42 CFR Part 2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Consent, ConsentScope, GuardianLink, User
from accounts.services import give_consent, revoke_consent, revoke_guardian_link
from programs.models import Enrollment, Program
from programs.selectors import RecordAccess, can_see_attendance, can_see_hours, participant_record_access
from tests.factories import (
    ConsentFactory,
    GuardianLinkFactory,
    UserFactory,
    make_enrollment,
    make_program,
    make_session,
)

pytestmark = pytest.mark.django_db

Check = Callable[..., bool]
CHECKS: dict[str, Check] = {"hours": can_see_hours, "attendance": can_see_attendance}


@pytest.fixture
def teen_program(dana: User) -> Program:
    return make_program(age_band="adolescent", clinicians=[dana])


@pytest.fixture
def ava_enrolled(ava: User, dana: User, teen_program: Program) -> Enrollment:
    return make_enrollment(participant=ava, program=teen_program, clinician=dana)


def _set_scopes(pat: User, scopes: list[str]) -> None:
    Consent.objects.filter(link__guardian=pat).update(scopes=scopes)


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_the_participant_sees_their_own_record_and_no_one_elses(
    scope: str, ava: User, sam: User, ava_enrolled: Enrollment
) -> None:
    see = CHECKS[scope]
    assert see(viewer=ava, participant=ava)
    assert not see(viewer=sam, participant=ava)
    assert not see(viewer=ava, participant=sam)


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_their_clinicians_see_it(scope: str, ava: User, dana: User, theo: User, ava_enrolled: Enrollment) -> None:
    see = CHECKS[scope]
    assert see(viewer=dana, participant=ava)  # primary clinician
    assert not see(viewer=theo, participant=ava)  # a clinician elsewhere
    ava_enrolled.program.clinicians.add(theo)
    assert see(viewer=theo, participant=ava)  # works in ava's program


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_facilitating_one_session_is_not_being_their_clinician(
    scope: str, ava: User, theo: User, ava_enrolled: Enrollment
) -> None:
    make_session(kind="individual", hosts=[theo], roster=[ava])
    assert not CHECKS[scope](viewer=theo, participant=ava)


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_a_clinician_stops_seeing_it_when_treatment_ends(
    scope: str, ava: User, dana: User, ava_enrolled: Enrollment
) -> None:
    Enrollment.objects.filter(pk=ava_enrolled.pk).update(status="discharged", ended_on=timezone.localdate())
    assert not CHECKS[scope](viewer=dana, participant=ava)


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_admins_see_it_while_active(scope: str, ava: User, ada: User) -> None:
    see = CHECKS[scope]
    assert see(viewer=ada, participant=ava)
    ada.is_active = False
    assert not see(viewer=ada, participant=ava)


@pytest.mark.parametrize("scope", ["hours", "attendance"])
def test_no_one_reads_hours_of_someone_who_is_not_a_participant(scope: str, ada: User, dana: User, pat: User) -> None:
    for person in (dana, pat, ada):
        assert not CHECKS[scope](viewer=ada, participant=person)


def test_a_guardian_with_only_the_schedule_scope_sees_neither(pat: User, ava: User) -> None:
    # pat's consent from ava names only `schedule` (tests/conftest.py)
    assert not can_see_hours(viewer=pat, participant=ava)
    assert not can_see_attendance(viewer=pat, participant=ava)
    for scope in (ConsentScope.HOURS, ConsentScope.ATTENDANCE):
        assert participant_record_access(viewer=pat, participant=ava, scope=scope) == RecordAccess.NO_CONSENT


@pytest.mark.parametrize(
    ("scopes", "hours", "attendance"),
    [
        ([], False, False),
        (["schedule"], False, False),
        (["hours"], True, False),
        (["attendance"], False, True),
        (["schedule", "attendance"], False, True),
        (["schedule", "hours"], True, False),
        (["attendance", "hours"], True, True),
        (["schedule", "attendance", "hours"], True, True),
    ],
)
def test_a_guardian_sees_exactly_the_scopes_the_adolescent_named(
    scopes: list[str], hours: bool, attendance: bool, pat: User, ava: User
) -> None:
    _set_scopes(pat, scopes)
    assert can_see_hours(viewer=pat, participant=ava) is hours
    assert can_see_attendance(viewer=pat, participant=ava) is attendance


def test_a_guardian_of_someone_else_hears_nothing(ava: User, ada: User) -> None:
    other = UserFactory.create(guardian=True)
    link = GuardianLinkFactory.create(guardian=other, adolescent=UserFactory.create(adolescent=True), created_by=ada)
    ConsentFactory.create(link=link, scopes=list(ConsentScope.values))
    assert not can_see_hours(viewer=other, participant=ava)
    assert not can_see_attendance(viewer=other, participant=ava)
    access = participant_record_access(viewer=other, participant=ava, scope=ConsentScope.HOURS)
    assert access == RecordAccess.HIDDEN


def test_revoked_consent_ends_the_guardians_view(pat: User, ava: User) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    give_consent(by=ava, link=link, scopes=[ConsentScope.HOURS, ConsentScope.ATTENDANCE])
    assert can_see_hours(viewer=pat, participant=ava) and can_see_attendance(viewer=pat, participant=ava)
    revoke_consent(by=ava, consent=Consent.objects.get(link=link, revoked_at__isnull=True))
    assert not can_see_hours(viewer=pat, participant=ava)
    assert not can_see_attendance(viewer=pat, participant=ava)
    access = participant_record_access(viewer=pat, participant=ava, scope=ConsentScope.HOURS)
    assert access == RecordAccess.NO_CONSENT  # still linked: ask ava


def test_a_revoked_link_hides_everything(pat: User, ava: User, ada: User) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    _set_scopes(pat, list(ConsentScope.values))
    revoke_guardian_link(by=ada, link=link)
    access = participant_record_access(viewer=pat, participant=ava, scope=ConsentScope.HOURS)
    assert access == RecordAccess.HIDDEN


def test_a_deactivated_guardian_sees_nothing(pat: User, ava: User) -> None:
    _set_scopes(pat, list(ConsentScope.values))
    pat.is_active = False
    assert not can_see_hours(viewer=pat, participant=ava)
    access = participant_record_access(viewer=pat, participant=ava, scope=ConsentScope.ATTENDANCE)
    assert access == RecordAccess.HIDDEN


def test_the_guardians_view_ends_when_the_adolescent_turns_18(pat: User, ava: User) -> None:
    _set_scopes(pat, list(ConsentScope.values))
    assert ava.birth_date is not None
    eighteenth = date(ava.birth_date.year + 18, ava.birth_date.month, ava.birth_date.day)
    with time_machine.travel(eighteenth - timedelta(days=1), tick=False):
        assert can_see_hours(viewer=pat, participant=ava)
    with time_machine.travel(eighteenth + timedelta(days=1), tick=False):
        assert not can_see_hours(viewer=pat, participant=ava)
        assert not can_see_attendance(viewer=pat, participant=ava)


def test_query_counts(
    pat: User, ava: User, dana: User, ada: User, ava_enrolled: Enrollment, django_assert_num_queries: Callable[..., Any]
) -> None:
    with django_assert_num_queries(0):
        assert can_see_hours(viewer=ada, participant=ava)
        assert can_see_hours(viewer=ava, participant=ava)
    with django_assert_num_queries(1):
        assert can_see_hours(viewer=dana, participant=ava)
    _set_scopes(pat, ["hours"])
    with django_assert_num_queries(1):
        assert can_see_hours(viewer=pat, participant=ava)
    with django_assert_num_queries(2):
        assert not can_see_attendance(viewer=pat, participant=ava)
