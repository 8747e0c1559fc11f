"""Weekly hour statuses (met / on_track / at_risk / short) and the minutes still scheduled
in a week, clipped to the week in the program's time zone, DST weeks included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import User
from programs.hours import (
    HoursStatus,
    covered_time,
    hours_status,
    scheduled_remaining_minutes,
    week_bounds,
    week_is_over,
)
from programs.models import Program
from sessions.models import RosterEntry, Session
from tests.factories import SessionFactory, make_program

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
minutes = st.integers(min_value=0, max_value=7 * 24 * 60)

# --- statuses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("required", "attended", "remaining", "over", "expected"),
    [
        (540, 540, 0, False, HoursStatus.MET),
        (540, 600, 0, True, HoursStatus.MET),
        (540, 0, 0, False, HoursStatus.AT_RISK),
        (540, 360, 180, False, HoursStatus.ON_TRACK),  # exactly enough left
        (540, 360, 179, False, HoursStatus.AT_RISK),  # one minute short even if all attended
        (540, 539, 0, True, HoursStatus.SHORT),
        (540, 360, 180, True, HoursStatus.SHORT),  # what was scheduled no longer counts
        (0, 0, 0, False, HoursStatus.MET),  # a week with nothing required (not enrolled)
    ],
)
def test_status_examples(required: int, attended: int, remaining: int, over: bool, expected: HoursStatus) -> None:
    status = hours_status(
        required_minutes=required, attended_minutes=attended, scheduled_remaining_minutes=remaining, week_over=over
    )
    assert status == expected


@given(required=minutes, attended=minutes, remaining=minutes, over=st.booleans())
def test_each_status_is_exactly_its_definition(required: int, attended: int, remaining: int, over: bool) -> None:
    status = hours_status(
        required_minutes=required, attended_minutes=attended, scheduled_remaining_minutes=remaining, week_over=over
    )
    met = attended >= required
    assert (status == HoursStatus.MET) == met
    assert (status == HoursStatus.SHORT) == (over and not met)
    assert (status == HoursStatus.AT_RISK) == (not over and attended + remaining < required)
    assert (status == HoursStatus.ON_TRACK) == (not over and not met and attended + remaining >= required)


RANK = {HoursStatus.SHORT: 0, HoursStatus.AT_RISK: 1, HoursStatus.ON_TRACK: 2, HoursStatus.MET: 3}


@given(required=minutes, attended=minutes, remaining=minutes, more=minutes, over=st.booleans())
def test_more_attended_or_more_scheduled_never_looks_worse(
    required: int, attended: int, remaining: int, more: int, over: bool
) -> None:
    def rank(attended: int, remaining: int) -> int:
        return RANK[
            hours_status(
                required_minutes=required,
                attended_minutes=attended,
                scheduled_remaining_minutes=remaining,
                week_over=over,
            )
        ]

    assert rank(attended + more, remaining) >= rank(attended, remaining)
    assert rank(attended, remaining + more) >= rank(attended, remaining)


@given(required=minutes, attended=minutes, remaining=minutes)
def test_the_end_of_the_week_only_turns_an_open_week_short(required: int, attended: int, remaining: int) -> None:
    def status(over: bool) -> HoursStatus:
        return hours_status(
            required_minutes=required, attended_minutes=attended, scheduled_remaining_minutes=remaining, week_over=over
        )

    assert status(True) in (HoursStatus.MET, HoursStatus.SHORT)
    assert status(True) == HoursStatus.MET or status(False) in (HoursStatus.ON_TRACK, HoursStatus.AT_RISK)


@pytest.mark.parametrize("field", ["required_minutes", "attended_minutes", "scheduled_remaining_minutes"])
def test_negative_minutes_are_refused(field: str) -> None:
    values = {"required_minutes": 540, "attended_minutes": 60, "scheduled_remaining_minutes": 60, field: -1}
    with pytest.raises(ValueError, match="negative"):
        hours_status(**values, week_over=False)


# --- the union of scheduled spans ----------------------------------------------------------

ORIGIN = datetime(2026, 11, 23, 6, tzinfo=UTC)
span_minutes = st.tuples(st.integers(-60, 600), st.integers(1, 240)).map(lambda p: (p[0], p[0] + p[1]))


def _at(minute: int) -> datetime:
    return ORIGIN + timedelta(minutes=minute)


def _covered_minutes(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
    return int(covered_time([(_at(a), _at(b)) for a, b in spans], start=_at(lo), end=_at(hi)).total_seconds()) // 60


@given(spans=st.lists(span_minutes, max_size=8), lo=st.integers(0, 300), length=st.integers(0, 400))
def test_covered_time_is_the_union_clipped_to_the_window(spans: list[tuple[int, int]], lo: int, length: int) -> None:
    hi = lo + length
    minutes_covered = {m for a, b in spans for m in range(max(a, lo), min(b, hi))}
    assert _covered_minutes(spans, lo, hi) == len(minutes_covered) <= length


@given(spans=st.lists(span_minutes, max_size=8), data=st.data())
def test_covered_time_ignores_order_and_repeats(spans: list[tuple[int, int]], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(spans))
    assert _covered_minutes(shuffled, 0, 480) == _covered_minutes(spans, 0, 480)
    assert _covered_minutes(spans + spans, 0, 480) == _covered_minutes(spans, 0, 480)


# --- weeks in a time zone ------------------------------------------------------------------


def test_week_bounds_are_local_midnights_and_dst_weeks_are_not_168_hours() -> None:
    start, end = week_bounds(2026, 48, "America/New_York")
    assert (start, end) == (
        datetime(2026, 11, 23, 5, tzinfo=UTC),
        datetime(2026, 11, 30, 5, tzinfo=UTC),
    )
    # 2026-W44 ends on Sunday 1 November, when New York falls back: 169 hours.
    start, end = week_bounds(2026, 44, "America/New_York")
    assert end - start == timedelta(hours=169)
    # 2026-W10 ends on Sunday 8 March, when New York springs forward: 167 hours.
    start, end = week_bounds(2026, 10, "America/New_York")
    assert end - start == timedelta(hours=167)


def test_week_is_over_at_local_midnight_after_sunday() -> None:
    last_instant = datetime(2026, 11, 29, 23, 59, 59, tzinfo=NEW_YORK)
    assert not week_is_over(year=2026, week=48, time_zone="America/New_York", now=last_instant)
    assert week_is_over(year=2026, week=48, time_zone="America/New_York", now=last_instant + timedelta(seconds=1))
    # Still Sunday evening in Chicago while it is Monday in New York.
    assert not week_is_over(year=2026, week=48, time_zone="America/Chicago", now=last_instant + timedelta(seconds=1))


# --- scheduled remaining minutes ---------------------------------------------------------------


def _session(person: User, start: datetime, minutes: int, **extra: object) -> Session:
    start = start.astimezone(UTC)  # real minutes: adding to a local time adds wall-clock time
    return SessionFactory.create(
        kind="individual", starts_at=start, ends_at=start + timedelta(minutes=minutes), roster=[person], **extra
    )


@pytest.fixture
def chicago_program(db: None) -> Program:
    return make_program(age_band="adult", time_zone="America/Chicago")


def _remaining(person: User, program: Program, week: int, now: datetime, year: int = 2026) -> int:
    return scheduled_remaining_minutes(participant=person, program=program, year=year, week=week, now=now)


@pytest.mark.django_db
def test_remaining_counts_sessions_ahead_and_the_rest_of_an_open_one(sam: User, chicago_program: Program) -> None:
    # 2026-W48: Monday 23 to Sunday 29 November. Three 180-minute days.
    for day in (23, 25, 27):
        _session(sam, datetime(2026, 11, day, 17, tzinfo=CHICAGO), 180)
    before = datetime(2026, 11, 22, 12, tzinfo=CHICAGO)
    assert _remaining(sam, chicago_program, 48, before) == 540
    # Wednesday 18:30: Monday is past, an hour and a half of Wednesday is ahead, Friday whole.
    during = datetime(2026, 11, 25, 18, 30, tzinfo=CHICAGO)
    assert _remaining(sam, chicago_program, 48, during) == 90 + 180
    after = datetime(2026, 11, 28, 9, tzinfo=CHICAGO)
    assert _remaining(sam, chicago_program, 48, after) == 0


@pytest.mark.django_db
def test_remaining_leaves_out_what_cannot_be_attended(
    sam: User, ava: User, pat: User, chicago_program: Program
) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=CHICAGO)
    counted = _session(sam, datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 60)
    _session(sam, datetime(2026, 11, 24, 17, tzinfo=CHICAGO), 60, cancelled_at=now)
    _session(sam, datetime(2026, 11, 25, 17, tzinfo=CHICAGO), 60, ended_at=now)  # ended early by its host
    removed = _session(sam, datetime(2026, 11, 26, 17, tzinfo=CHICAGO), 60)
    RosterEntry.objects.filter(session=removed, user=sam).update(removed_at=now)
    _session(ava, datetime(2026, 11, 27, 17, tzinfo=CHICAGO), 60)  # someone else's
    family = _session(ava, datetime(2026, 11, 28, 10, tzinfo=CHICAGO), 60)
    RosterEntry.objects.create(session=family, user=pat, role="guardian")
    _session(sam, datetime(2026, 11, 30, 17, tzinfo=CHICAGO), 60)  # next week
    assert counted.pk
    assert _remaining(sam, chicago_program, 48, now) == 60
    assert _remaining(pat, chicago_program, 48, now) == 0  # a guardian's family session is not their hours


@pytest.mark.django_db
def test_overlapping_sessions_count_once(sam: User, chicago_program: Program) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=CHICAGO)
    _session(sam, datetime(2026, 11, 23, 17, tzinfo=CHICAGO), 120)  # 17:00-19:00
    _session(sam, datetime(2026, 11, 23, 18, tzinfo=CHICAGO), 120)  # 18:00-20:00
    _session(sam, datetime(2026, 11, 23, 18, 15, tzinfo=CHICAGO), 30)  # inside both
    assert _remaining(sam, chicago_program, 48, now) == 180


@pytest.mark.django_db
def test_sessions_across_the_weeks_edges_are_clipped(sam: User, chicago_program: Program) -> None:
    now = datetime(2026, 11, 15, 12, tzinfo=CHICAGO)
    _session(sam, datetime(2026, 11, 22, 23, tzinfo=CHICAGO), 90)  # Sunday 23:00 before: 30 min in W48
    _session(sam, datetime(2026, 11, 29, 23, 30, tzinfo=CHICAGO), 60)  # Sunday 23:30: 30 min in W48
    assert _remaining(sam, chicago_program, 48, now) == 60
    assert _remaining(sam, chicago_program, 47, now) == 60  # the other parts, in their own weeks
    assert _remaining(sam, chicago_program, 49, now) == 30


@pytest.mark.django_db
def test_the_week_is_the_programs_local_week(sam: User) -> None:
    """Monday 00:30-01:30 in New York is Sunday 23:30 to Monday 00:30 in Chicago: all of it
    in W49 for a New York program, half in each week for a Chicago one."""
    new_york = make_program(age_band="adult", time_zone="America/New_York")
    chicago = make_program(age_band="adult", time_zone="America/Chicago")
    now = datetime(2026, 11, 15, 12, tzinfo=NEW_YORK)
    _session(sam, datetime(2026, 11, 30, 0, 30, tzinfo=NEW_YORK), 60)
    assert _remaining(sam, new_york, 48, now) == 0
    assert _remaining(sam, new_york, 49, now) == 60
    assert _remaining(sam, chicago, 48, now) == 30
    assert _remaining(sam, chicago, 49, now) == 30


@pytest.mark.django_db
def test_a_dst_week_in_new_york_counts_real_minutes(sam: User) -> None:
    """2026-W44 (26 October to 1 November): New York falls back at 02:00 on Sunday 1
    November. A session from 01:00 EDT to 03:00 EST lasts three real hours, and the week
    ends at Monday 00:00 EST, five hours after midnight UTC."""
    program = make_program(age_band="adult", time_zone="America/New_York")
    now = datetime(2026, 10, 20, 12, tzinfo=NEW_YORK)
    across_the_change = datetime(2026, 11, 1, 5, tzinfo=UTC)  # 01:00 EDT
    _session(sam, across_the_change, 180)  # ends 08:00 UTC = 03:00 EST
    _session(sam, datetime(2026, 11, 1, 23, tzinfo=NEW_YORK), 120)  # Sunday 23:00 EST: 60 min this week
    assert datetime(2026, 11, 1, 23, tzinfo=NEW_YORK).utcoffset() == timedelta(hours=-5)
    assert _remaining(sam, program, 44, now) == 180 + 60
    # During the repeated hour: 01:30 EST (the second 01:30 of the night) is 06:30 UTC.
    second_one_thirty = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)
    assert second_one_thirty.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert _remaining(sam, program, 44, second_one_thirty) == 90 + 60


@pytest.mark.django_db
def test_a_spring_forward_week_in_new_york(sam: User) -> None:
    """2026-W10 ends on Sunday 8 March, when 02:00 EST becomes 03:00 EDT. A daily 17:00
    session stays 17:00 local on both sides of the change and counts 60 minutes each."""
    program = make_program(age_band="adult", time_zone="America/New_York")
    for day in (6, 7, 8):
        _session(sam, datetime(2026, 3, day, 17, tzinfo=NEW_YORK), 60)
    _session(sam, datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK), 60)  # 01:30 EST to 03:30 EDT: one real hour
    now = datetime(2026, 3, 5, 12, tzinfo=NEW_YORK)
    assert _remaining(sam, program, 10, now) == 4 * 60


@pytest.mark.django_db
def test_remaining_defaults_to_now_and_costs_one_query(
    sam: User, chicago_program: Program, django_assert_num_queries: Callable[..., Any]
) -> None:
    start = timezone.now() + timedelta(hours=1)
    _session(sam, start, 60)
    year, week, _ = start.astimezone(CHICAGO).isocalendar()
    with django_assert_num_queries(1):
        remaining = scheduled_remaining_minutes(participant=sam, program=chicago_program, year=year, week=week)
    end_of_week = week_bounds(year, week, "America/Chicago")[1]
    assert remaining == min(60, int((end_of_week - start).total_seconds()) // 60)


@pytest.mark.django_db
def test_clipping_to_both_edges_of_a_dst_week_keeps_the_extra_hour(sam: User) -> None:
    """Not a real session: one span over the whole of 2026-W44 counts all 169 hours."""
    program = make_program(age_band="adult", time_zone="America/New_York")
    _session(sam, datetime(2026, 10, 25, 12, tzinfo=NEW_YORK), 9 * 24 * 60)
    assert _remaining(sam, program, 44, datetime(2026, 10, 1, tzinfo=NEW_YORK)) == 169 * 60
