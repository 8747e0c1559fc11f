"""The slot engine (bookings.slots): offered slots, DST, exceptions, busy time, notice,
and check_bookable's refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError

from accounts.models import User
from bookings.slots import Slot, booking_policy, check_bookable, free_slots
from server.errors import Conflict
from sessions.services import create_schedule
from tests.bookings.helpers import add_window, extra_hours, hosted_session, set_policy, time_off
from tests.factories import make_group, make_program

NEW_YORK = ZoneInfo("America/New_York")
# Well before every date below, so the notice period never hides a slot unless a test says so.
LONG_AGO = datetime(2027, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def starts(slots: list[Slot], zone: ZoneInfo = NEW_YORK) -> list[str]:
    return [slot.starts_at.astimezone(zone).strftime("%m-%d %H:%M") for slot in slots]


def day_slots(clinician: User, day: date, now: datetime = LONG_AGO) -> list[Slot]:
    return free_slots(clinician=clinician, start=ny(day, 0), end=ny(day + timedelta(days=1), 0), now=now)


MONDAY = date(2027, 3, 1)


def test_defaults_apply_without_a_policy_row(dana: User) -> None:
    policy = booking_policy(dana)
    assert (policy.time_zone, policy.session_minutes, policy.buffer_minutes) == ("America/New_York", 50, 10)
    assert (policy.min_notice_minutes, policy.cancellation_cutoff_minutes, policy.stored) == (1440, 1440, False)


def test_slots_step_by_length_plus_buffer_and_fit_the_window(dana: User) -> None:
    add_window(dana, 1, "09:00", "11:50")
    slots = day_slots(dana, MONDAY)
    assert starts(slots) == ["03-01 09:00", "03-01 10:00", "03-01 11:00"]
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=50) for slot in slots)
    assert all(slot.starts_at.tzinfo is not None and slot.starts_at.utcoffset() == timedelta(0) for slot in slots)


def test_a_policy_sets_length_buffer_and_zone(dana: User) -> None:
    set_policy(dana, time_zone="Europe/London", session_minutes=30, buffer_minutes=0)
    add_window(dana, 1, "09:00", "10:00")
    slots = day_slots(dana, MONDAY)
    assert starts(slots, ZoneInfo("Europe/London")) == ["03-01 09:00", "03-01 09:30"]


def test_overlapping_windows_merge(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    add_window(dana, 1, "09:30", "11:00")
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00", "03-01 10:00"]


def test_window_validity_dates(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00", valid_from=date(2027, 3, 8), valid_until=date(2027, 3, 15))
    slots = free_slots(clinician=dana, start=ny(MONDAY, 0), end=ny(date(2027, 3, 30), 0), now=LONG_AGO)
    assert starts(slots) == ["03-08 09:00", "03-15 09:00"]


def test_nine_oclock_stays_nine_oclock_across_new_york_changes(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    spring = free_slots(clinician=dana, start=ny(date(2027, 3, 8), 0), end=ny(date(2027, 3, 16), 0), now=LONG_AGO)
    assert [slot.starts_at for slot in spring] == [
        datetime(2027, 3, 8, 14, 0, tzinfo=UTC),  # EST, UTC-5
        datetime(2027, 3, 15, 13, 0, tzinfo=UTC),  # EDT, UTC-4 (changed on Sunday 14 March)
    ]
    autumn = free_slots(clinician=dana, start=ny(date(2027, 11, 1), 0), end=ny(date(2027, 11, 9), 0), now=LONG_AGO)
    assert [slot.starts_at for slot in autumn] == [
        datetime(2027, 11, 1, 13, 0, tzinfo=UTC),
        datetime(2027, 11, 8, 14, 0, tzinfo=UTC),  # changed on Sunday 7 November
    ]
    assert starts(spring + autumn) == ["03-08 09:00", "03-15 09:00", "11-01 09:00", "11-08 09:00"]


def test_a_start_in_the_spring_forward_gap_is_skipped(dana: User) -> None:
    add_window(dana, 7, "01:00", "04:00")
    slots = day_slots(dana, date(2027, 3, 14))
    # 02:00 does not exist that night; 01:00 EST and 03:00 EDT are an hour apart in UTC.
    assert starts(slots) == ["03-14 01:00", "03-14 03:00"]
    assert slots[1].starts_at - slots[0].starts_at == timedelta(hours=1)


def test_slots_never_overlap_across_the_spring_forward_gap(dana: User) -> None:
    set_policy(dana, session_minutes=25, buffer_minutes=0)
    add_window(dana, 7, "01:00", "04:00")
    slots = day_slots(dana, date(2027, 3, 14))
    # 01:50 EST ends at 03:15 EDT: the wall clock's next step, 03:05 EDT, would overlap it.
    assert starts(slots) == ["03-14 01:00", "03-14 01:25", "03-14 01:50", "03-14 03:30"]
    assert all(later.starts_at >= earlier.ends_at for earlier, later in pairwise(slots))


def test_whole_day_time_off_removes_the_day(dana: User) -> None:
    add_window(dana, 1, "09:00", "12:00")
    time_off(dana, MONDAY)
    assert day_slots(dana, MONDAY) == []
    assert starts(day_slots(dana, MONDAY + timedelta(days=7))) == ["03-08 09:00", "03-08 10:00", "03-08 11:00"]


def test_part_day_time_off_cuts_the_interval(dana: User) -> None:
    add_window(dana, 1, "09:00", "13:00")
    time_off(dana, MONDAY, "10:30", "11:00")
    # 09:00-10:30 gives 09:00 only (10:00 + 50 > 10:30); 11:00-13:00 restarts at 11:00.
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00", "03-01 11:00", "03-01 12:00"]


def test_extra_hours_add_slots_on_a_day_without_windows(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    saturday = date(2027, 3, 6)
    extra_hours(dana, saturday, "14:00", "16:00")
    assert starts(day_slots(dana, saturday)) == ["03-06 14:00", "03-06 15:00"]


def test_extra_hours_join_a_window_they_touch(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    extra_hours(dana, MONDAY, "10:00", "11:00")
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00", "03-01 10:00"]


def test_buffer_around_a_group_session_the_clinician_co_leads(dana: User, theo: User) -> None:
    add_window(dana, 1, "09:00", "12:00")
    group = make_group(program=make_program(), lead=theo, co=[dana])
    # Ends 08:51: one minute inside the 10-minute buffer before 09:00.
    hosted_session([theo, dana], ny(MONDAY, 8), ny(MONDAY, 8, 51), kind="group", group=group)
    assert starts(day_slots(dana, MONDAY)) == ["03-01 10:00", "03-01 11:00"]


def test_a_session_ending_exactly_at_the_buffer_leaves_the_slot_free(dana: User) -> None:
    add_window(dana, 1, "09:00", "12:00")
    hosted_session([dana], ny(MONDAY, 8), ny(MONDAY, 8, 50))
    # 10:00 slot ends 10:50; a session from 11:00 sits just outside its buffer, but
    # takes the 11:00 slot itself.
    hosted_session([dana], ny(MONDAY, 11), ny(MONDAY, 11, 50))
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00", "03-01 10:00"]


def test_another_clinicians_session_takes_nothing(dana: User, theo: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    hosted_session([theo], ny(MONDAY, 9), ny(MONDAY, 10))
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00"]


def test_a_cancelled_session_frees_its_time(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    session = hosted_session([dana], ny(MONDAY, 9), ny(MONDAY, 10))
    assert day_slots(dana, MONDAY) == []
    session.cancelled_at = LONG_AGO
    session.save(update_fields=["cancelled_at"])
    assert starts(day_slots(dana, MONDAY)) == ["03-01 09:00"]


def test_notice_boundary_to_the_minute(dana: User) -> None:
    add_window(dana, 1, "09:00", "10:00")
    slot_start = ny(MONDAY, 9)
    assert starts(day_slots(dana, MONDAY, now=slot_start - timedelta(minutes=1440))) == ["03-01 09:00"]
    assert day_slots(dana, MONDAY, now=slot_start - timedelta(minutes=1439)) == []
    with pytest.raises(ValidationError) as refused:
        check_bookable(clinician=dana, slot_start=slot_start, now=slot_start - timedelta(minutes=1439))
    assert refused.value.get_codes() == {"slot_start": ["inside_notice_period"]}
    assert check_bookable(
        clinician=dana, slot_start=slot_start, now=slot_start - timedelta(minutes=1440)
    ).starts_at == (slot_start)


def test_range_limits(dana: User) -> None:
    start = ny(MONDAY, 0)
    free_slots(clinician=dana, start=start, end=start + timedelta(days=60), now=LONG_AGO)
    for end in (start + timedelta(days=60, seconds=1), start, start - timedelta(days=1)):
        with pytest.raises(ValidationError):
            free_slots(clinician=dana, start=start, end=end, now=LONG_AGO)
    with pytest.raises(ValidationError):
        free_slots(clinician=dana, start=start.replace(tzinfo=None), end=start + timedelta(days=1), now=LONG_AGO)


def test_queries_do_not_grow_with_the_range(dana: User, theo: User, ada: User) -> None:
    for weekday in range(1, 8):
        add_window(dana, weekday, "08:00", "18:00")
    time_off(dana, MONDAY + timedelta(days=3))
    extra_hours(dana, MONDAY + timedelta(days=5), "19:00", "21:00")
    for offset in range(0, 60, 2):
        hosted_session([dana, theo], ny(MONDAY + timedelta(days=offset), 12), ny(MONDAY + timedelta(days=offset), 13))
    # A schedule dana co-leads: its occurrences not generated yet are busy time too.
    create_schedule(
        by=ada, kind="group", title="Early group", group=make_group(program=make_program(), lead=theo, co=[dana]),
        weekdays=[6], start_time=time(7, 0), duration_minutes=60, starts_on=MONDAY, time_zone="America/New_York",
    )  # fmt: skip
    with CaptureQueriesContext(connection) as one_day:
        free_slots(clinician=dana, start=ny(MONDAY, 0), end=ny(MONDAY, 23), now=LONG_AGO)
    with CaptureQueriesContext(connection) as sixty_days:
        slots = free_slots(clinician=dana, start=ny(MONDAY, 0), end=ny(MONDAY, 0) + timedelta(days=60), now=LONG_AGO)
    assert len(one_day) == len(sixty_days) == 6
    assert len(slots) > 500


# --- check_bookable ------------------------------------------------------------------------


def refusal_code(clinician: User, slot_start: object, now: datetime = LONG_AGO) -> str:
    with pytest.raises(ValidationError) as refused:
        check_bookable(clinician=clinician, slot_start=slot_start, now=now)  # type: ignore[arg-type]
    codes = refused.value.get_codes()
    assert isinstance(codes, dict)
    field_codes = codes["slot_start"]
    assert isinstance(field_codes, list)
    return str(field_codes[0])


def test_check_bookable_returns_the_slot(dana: User) -> None:
    add_window(dana, 1, "09:00", "11:00")
    slot = check_bookable(clinician=dana, slot_start=ny(MONDAY, 10), now=LONG_AGO)
    assert slot == Slot(starts_at=ny(MONDAY, 10).astimezone(UTC), ends_at=ny(MONDAY, 10, 50).astimezone(UTC))


def test_check_bookable_refusals(dana: User) -> None:
    add_window(dana, 1, "09:00", "11:00")
    assert refusal_code(dana, ny(MONDAY, 10).replace(tzinfo=None)) == "invalid_time"
    assert refusal_code(dana, "2027-03-01T09:00:00-05:00") == "invalid_time"
    assert refusal_code(dana, datetime(9999, 12, 31, 23, tzinfo=UTC)) == "invalid_time"
    assert refusal_code(dana, ny(MONDAY, 9), now=ny(MONDAY, 9, 1)) == "slot_in_past"
    assert refusal_code(dana, ny(MONDAY, 9), now=ny(MONDAY, 8)) == "inside_notice_period"
    assert refusal_code(dana, ny(MONDAY, 9, 30)) == "not_on_slot_boundary"
    assert refusal_code(dana, ny(MONDAY, 9, 0) + timedelta(seconds=1)) == "not_on_slot_boundary"
    assert refusal_code(dana, ny(MONDAY, 12)) == "outside_availability"
    assert refusal_code(dana, ny(MONDAY + timedelta(days=1), 9)) == "outside_availability"


def test_check_bookable_conflicts_with_a_hosted_session_within_the_buffer(dana: User) -> None:
    add_window(dana, 1, "09:00", "11:00")
    busy = hosted_session([dana], ny(MONDAY, 9, 55), ny(MONDAY, 10, 30))
    with pytest.raises(Conflict) as conflict:
        check_bookable(clinician=dana, slot_start=ny(MONDAY, 9), now=LONG_AGO)
    assert conflict.value.get_codes() == "slot_taken"
    # Rescheduling that very session ignores it.
    assert check_bookable(clinician=dana, slot_start=ny(MONDAY, 9), now=LONG_AGO, exclude_session_id=busy.pk)
    assert [s.starts_at for s in day_slots(dana, MONDAY)] == []
