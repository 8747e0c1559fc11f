"""The attended-time union (attendance.selectors.attended_intervals), computed in
PostgreSQL: property tests against a plain Python model of the rules, and hand-computed
sessions."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from attendance.selectors import attended_intervals
from sessions.models import AttendanceSegment, Session
from tests.attendance.conftest import START, at, segment

GRACE = timedelta(seconds=120)
SECONDS = st.integers(min_value=-1800, max_value=7200)
SEGMENTS = st.lists(st.tuples(SECONDS, st.integers(min_value=0, max_value=3600)), min_size=0, max_size=8)
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def reference_union(
    spans: list[tuple[datetime, datetime]], window: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    """The rules in plain Python: clip to the window, drop empty ranges, merge overlaps
    and gaps shorter than the grace."""
    clipped = sorted((max(a, window[0]), min(b, window[1])) for a, b in spans)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in clipped:
        if a >= b:
            continue
        if merged and a - merged[-1][1] < GRACE:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _write(session: Session, user: User, spans: list[tuple[datetime, datetime]]) -> None:
    AttendanceSegment.objects.bulk_create(
        AttendanceSegment(session=session, user=user, joined_at=a, left_at=b, left_reason="left") for a, b in spans
    )


def _spans(raw: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    return [(START + timedelta(seconds=s), START + timedelta(seconds=s + d)) for s, d in raw]


def _computed(session: Session, user: User) -> list[tuple[datetime, datetime]]:
    found = attended_intervals(session_ids=[session.pk], now=at(1000)).get((session.pk, user.pk))
    return list(found.intervals) if found else []


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(raw=SEGMENTS, seed=st.integers(min_value=0, max_value=1000))
def test_the_union_matches_the_rules_whatever_the_order(
    ended_session: Callable[..., Session], ava: User, raw: list[tuple[int, int]], seed: int
) -> None:
    session = ended_session()
    spans = _spans(raw)
    random.Random(seed).shuffle(spans)
    _write(session, ava, spans)
    computed = _computed(session, ava)
    assert computed == reference_union(spans, (session.starts_at, session.ends_at))
    total = sum((b - a for a, b in computed), timedelta())
    assert total <= session.ends_at - session.starts_at


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(raw=SEGMENTS)
def test_the_union_is_idempotent_tabs_and_repeats_count_once(
    ended_session: Callable[..., Session], ava: User, raw: list[tuple[int, int]]
) -> None:
    once, twice = ended_session(), ended_session()
    spans = _spans(raw)
    _write(once, ava, spans)
    # The same intervals again, as a second tab or device would have them.
    _write(twice, ava, spans + spans)
    assert _computed(once, ava) == _computed(twice, ava)


@pytest.mark.django_db
def test_overlapping_tabs_count_once(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session()
    segment(session, ava, 0, 60)
    segment(session, ava, 30, 90)  # a phone joined while the laptop was still there
    found = attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)]
    assert found.intervals == ((at(0), at(90)),)
    assert found.minutes == 90


@pytest.mark.django_db
def test_a_90_second_drop_merges_and_a_5_minute_drop_splits(
    ended_session: Callable[..., Session], ava: User, sam: User
) -> None:
    session = ended_session()
    segment(session, ava, 0, 40)
    segment(session, ava, 41.5, 90)
    segment(session, sam, 0, 40)
    segment(session, sam, 45, 90)
    attended = attended_intervals(session_ids=[session.pk])
    assert attended[(session.pk, ava.pk)].intervals == ((at(0), at(90)),)
    assert attended[(session.pk, ava.pk)].minutes == 90
    assert attended[(session.pk, sam.pk)].intervals == ((at(0), at(40)), (at(45), at(90)))
    assert attended[(session.pk, sam.pk)].minutes == 85


@pytest.mark.django_db
def test_a_gap_of_exactly_the_grace_splits(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session()
    segment(session, ava, 0, 40)
    segment(session, ava, 42, 90)  # exactly 120 s: not shorter than the grace
    assert len(attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)].intervals) == 2


@pytest.mark.django_db
def test_time_outside_the_session_is_clipped(
    ended_session: Callable[..., Session], ava: User, settings: object
) -> None:
    session = ended_session()
    segment(session, ava, -10, 100)
    found = attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)]
    assert (found.first_join, found.last_leave, found.minutes) == (at(0), at(90), 90)


@pytest.mark.django_db
def test_the_early_join_allowance_counts_time_before_the_start(
    ended_session: Callable[..., Session], ava: User, settings: object
) -> None:
    settings.ATTENDANCE_EARLY_JOIN_MINUTES = 5  # type: ignore[attr-defined]
    session = ended_session()
    segment(session, ava, -10, 30)
    found = attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)]
    assert (found.first_join, found.minutes) == (at(-5), 35)


@pytest.mark.django_db
def test_a_breakout_is_the_same_attendance(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session()
    segment(session, ava, 0, 30, reason="breakout")
    segment(session, ava, 30, 60, reason="breakout_closed")  # the breakout room
    segment(session, ava, 60.25, 90, reason="session_ended")  # back in the main room 15 s later
    found = attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)]
    assert found.intervals == ((at(0), at(90)),)


@pytest.mark.django_db
def test_an_open_segment_of_an_ended_session_counts_until_it_ended(
    ended_session: Callable[..., Session], ava: User
) -> None:
    """A crashed process left the segment open; the session ended 80 minutes in."""
    session = ended_session(ended_after=80)
    segment(session, ava, 5, None)
    found = attended_intervals(session_ids=[session.pk], now=at(500))[(session.pk, ava.pk)]
    assert found.intervals == ((at(5), at(80)),)


@pytest.mark.django_db
def test_a_live_session_counts_until_now(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session(ended_after=None)
    segment(session, ava, 5, None)
    found = attended_intervals(session_ids=[session.pk], now=at(20))[(session.pk, ava.pk)]
    assert (found.seconds, found.minutes) == (15 * 60, 15)


@pytest.mark.django_db
def test_minutes_are_whole_minutes_rounded_down(ended_session: Callable[..., Session], ava: User) -> None:
    session = ended_session()
    segment(session, ava, 0, 59.99)
    found = attended_intervals(session_ids=[session.pk])[(session.pk, ava.pk)]
    assert (found.seconds, found.minutes) == (3599, 59)


@pytest.mark.django_db
def test_one_statement_serves_a_batch(
    ended_session: Callable[..., Session], ava: User, sam: User, django_assert_num_queries: Callable[..., object]
) -> None:
    first, second = ended_session(), ended_session()
    segment(first, ava, 0, 90)
    segment(second, sam, 10, 20)
    with django_assert_num_queries(1):  # type: ignore[attr-defined]
        attended = attended_intervals(session_ids=[first.pk, second.pk])
    assert {key: value.minutes for key, value in attended.items()} == {(first.pk, ava.pk): 90, (second.pk, sam.pk): 10}
