"""A clinician is never double-booked by sessions either: a single session, a moved one or
a schedule may not overlap a live booked family session of a facilitator (409
clinician_booked, nothing changed), and a booking may not take time a schedule will fill
later, so the generator never meets a booking."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time, timedelta
from typing import Any

import pytest
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from bookings import services
from bookings.models import Booking
from bookings.slots import check_bookable, free_slots
from groups.models import TherapyGroup
from server.errors import Conflict
from sessions import services as session_services
from sessions.booked_time import bookings_overlapping
from sessions.models import RecurringSchedule, Session
from tests.bookings.booking_support import NOW, THURSDAY, WEDNESDAY, World, frozen, make_world, ny
from tests.bookings.helpers import hosted_session
from tests.factories import make_group, make_program

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], APIClient]
Snapshot = Callable[[], dict[str, int]]

SESSIONS = "/api/v1/sessions/"
SCHEDULES = "/api/v1/schedules/"
TEN = ny(WEDNESDAY, 10)  # dana's booked family session runs 10:00-10:50 New York
FAR_WEDNESDAY = date(2027, 4, 21)  # 7 weeks ahead: past the generator's 28-day horizon


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


@pytest.fixture
def group_theo_leads(world: World, theo: User) -> TherapyGroup:
    """dana co-facilitates theo's group."""
    return make_group(program=make_program(), lead=theo, co=[world.dana], members=[world.sam])


def book(world: World, start: Any = TEN) -> Booking:
    return services.book_family_session(by=world.pat, clinician=world.dana, participant=world.ava, slot_start=start)


def individual_body(world: World, start: Any, minutes: int = 50) -> dict[str, Any]:
    return {
        "kind": "individual", "title": "Individual therapy", "starts_at": start.isoformat(),
        "duration_minutes": minutes, "participant": world.sam.pk, "clinician": world.dana.pk,
    }  # fmt: skip


def schedule_body(group: TherapyGroup, start_time: str = "10:30", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "group", "title": "Process group", "group": group.pk, "weekdays": [3], "start_time": start_time,
        "duration_minutes": 60, "starts_on": NOW.date().isoformat(), "time_zone": "America/New_York", **extra,
    }  # fmt: skip


def refused_409(response: Any) -> str:
    assert response.status_code == 409, response.content
    body = response.json()["error"]
    assert body["message"]
    return str(body["code"])


def weekly_schedule(world: World, day: date = WEDNESDAY, clock: time = time(10, 0)) -> RecurringSchedule:
    """dana's individual sessions with sam, weekly on the day's weekday, 60 minutes, not generated."""
    return session_services.create_schedule(
        by=world.ada, kind="individual", title="Individual therapy", weekdays=[day.isoweekday()], start_time=clock,
        duration_minutes=60, starts_on=NOW.date(), participant=world.sam, clinician=world.dana,
        time_zone="America/New_York",
    )  # fmt: skip


# --- Single sessions and moves ---------------------------------------------------------------


def test_a_single_session_over_a_booking_is_409_and_changes_nothing(
    world: World, group_theo_leads: TherapyGroup, client_for: ClientFor, db_snapshot: Snapshot
) -> None:
    book(world)
    ada, dana = client_for(world.ada), client_for(world.dana)
    before = db_snapshot()
    for client in (ada, dana):
        response = client.post(SESSIONS, individual_body(world, TEN + timedelta(minutes=30)), format="json")
        assert refused_409(response) == "clinician_booked"
    # A group dana only co-facilitates counts too; so does a session around the booking.
    group = {"kind": "group", "title": "Process group", "group": group_theo_leads.pk,
             "starts_at": ny(WEDNESDAY, 9).isoformat(), "duration_minutes": 180}  # fmt: skip
    assert refused_409(ada.post(SESSIONS, group, format="json")) == "clinician_booked"
    assert db_snapshot() == before


def test_a_session_may_start_as_the_booking_ends_and_a_cancelled_booking_frees_its_time(
    world: World, client_for: ClientFor
) -> None:
    booking = book(world)
    ada = client_for(world.ada)
    assert ada.post(SESSIONS, individual_body(world, TEN + timedelta(minutes=50)), format="json").status_code == 201
    assert ada.post(SESSIONS, individual_body(world, TEN - timedelta(minutes=50)), format="json").status_code == 201
    services.cancel_booking(by=world.pat, booking=booking)
    assert ada.post(SESSIONS, individual_body(world, TEN), format="json").status_code == 201
    assert Session.objects.filter(kind="individual", cancelled_at__isnull=True).count() == 3


def test_a_booking_of_another_clinician_is_no_conflict(world: World, theo: User, client_for: ClientFor) -> None:
    book(world)
    body = {**individual_body(world, TEN), "clinician": theo.pk}
    assert client_for(world.ada).post(SESSIONS, body, format="json").status_code == 201


def test_moving_a_session_onto_a_booking_is_409_and_changes_nothing(
    world: World, group_theo_leads: TherapyGroup, theo: User, client_for: ClientFor, db_snapshot: Snapshot
) -> None:
    session = hosted_session([theo, world.dana], ny(THURSDAY, 10), ny(THURSDAY, 11), kind="group",
                             group=group_theo_leads)  # fmt: skip
    booking = book(world)
    clients = [client_for(world.ada), client_for(theo)]  # theo asks too: his co-facilitator is booked then
    before = db_snapshot()
    url = f"{SESSIONS}{session.pk}/move/"
    for client in clients:
        body = {"starts_at": (TEN + timedelta(minutes=40)).isoformat(), "ends_at": ny(WEDNESDAY, 12).isoformat()}
        assert refused_409(client.post(url, body, format="json")) == "clinician_booked"
    assert db_snapshot() == before
    session.refresh_from_db()
    assert (session.starts_at, session.moved_at) == (ny(THURSDAY, 10), None)
    # Beside it is fine, and once the booking is cancelled its time is free.
    body = {"starts_at": (TEN + timedelta(minutes=50)).isoformat(), "ends_at": ny(WEDNESDAY, 12).isoformat()}
    assert clients[0].post(url, body, format="json").status_code == 200
    services.cancel_booking(by=world.pat, booking=booking)
    body = {"starts_at": TEN.isoformat(), "ends_at": ny(WEDNESDAY, 11).isoformat()}
    assert clients[0].post(url, body, format="json").status_code == 200


# --- Schedules -------------------------------------------------------------------------------


def test_a_schedule_over_a_booking_far_ahead_is_409_and_changes_nothing(
    world: World, group_theo_leads: TherapyGroup, client_for: ClientFor, db_snapshot: Snapshot
) -> None:
    book(world, ny(FAR_WEDNESDAY, 11))
    ada = client_for(world.ada)
    before = db_snapshot()
    response = ada.post(SCHEDULES, schedule_body(group_theo_leads), format="json")  # open-ended, 10:30-11:30
    assert refused_409(response) == "clinician_booked"
    assert FAR_WEDNESDAY.isoformat() in response.json()["error"]["message"]
    # The same wall-clock hour in London (15:30 there is 10:30 in New York that day).
    london = schedule_body(group_theo_leads, "15:30", time_zone="Europe/London", ends_on="2027-12-31")
    assert refused_409(ada.post(SCHEDULES, london, format="json")) == "clinician_booked"
    with pytest.raises(Conflict) as refused:
        weekly_schedule(world, FAR_WEDNESDAY, time(11, 30))  # an individual one of dana's
    assert refused.value.get_codes() == "clinician_booked"
    assert db_snapshot() == before


def test_a_schedule_clear_of_bookings_is_made(
    world: World, group_theo_leads: TherapyGroup, client_for: ClientFor
) -> None:
    booking = book(world, ny(FAR_WEDNESDAY, 11))
    ada = client_for(world.ada)
    ending_before = schedule_body(group_theo_leads, ends_on=(FAR_WEDNESDAY - timedelta(days=1)).isoformat())
    assert ada.post(SCHEDULES, ending_before, format="json").status_code == 201
    after_it = schedule_body(group_theo_leads, "11:50", starts_on="2027-04-21", ends_on="2027-04-21")
    assert ada.post(SCHEDULES, after_it, format="json").status_code == 201
    services.cancel_booking(by=world.pat, booking=booking)
    freed = schedule_body(group_theo_leads, "10:30", starts_on="2027-04-21")
    assert ada.post(SCHEDULES, freed, format="json").status_code == 201


# --- Slots: time a schedule will fill is busy before it is generated -------------------------


def test_occurrences_not_generated_yet_are_busy(world: World) -> None:
    schedule = weekly_schedule(world)  # Wednesdays 10:00-11:00, nothing generated
    assert not schedule.sessions.exists()
    week = free_slots(clinician=world.dana, start=ny(FAR_WEDNESDAY, 0), end=ny(FAR_WEDNESDAY, 23))
    starts = [slot.starts_at for slot in week]
    # 10:00 overlaps; 11:00 is within the 10-minute buffer of its end; 09:00 ends 10 before.
    assert ny(FAR_WEDNESDAY, 9) in starts and ny(FAR_WEDNESDAY, 12) in starts
    assert ny(FAR_WEDNESDAY, 10) not in starts and ny(FAR_WEDNESDAY, 11) not in starts
    for start in (ny(FAR_WEDNESDAY, 10), ny(FAR_WEDNESDAY, 11), TEN):
        with pytest.raises(Conflict) as refused:
            book(world, start)
        assert refused.value.get_codes() == "slot_taken"
    assert not Booking.objects.exists()


def test_a_group_schedule_of_a_co_facilitator_and_another_zone_is_busy_too(
    world: World, group_theo_leads: TherapyGroup
) -> None:
    session_services.create_schedule(
        by=world.ada, kind="group", title="Process group", group=group_theo_leads, weekdays=[3],
        start_time=time(15, 0), duration_minutes=60, starts_on=NOW.date(), time_zone="Europe/London",
    )  # fmt: skip
    with pytest.raises(Conflict):
        check_bookable(clinician=world.dana, slot_start=ny(FAR_WEDNESDAY, 10))  # 15:00 in London
    assert check_bookable(clinician=world.dana, slot_start=ny(FAR_WEDNESDAY, 12)).starts_at == ny(FAR_WEDNESDAY, 12)


def test_a_cancelled_or_moved_occurrence_and_a_cancelled_schedule_free_their_time(world: World) -> None:
    schedule = weekly_schedule(world)
    next_week = WEDNESDAY + timedelta(days=7)
    session_services.generate_occurrences(schedule=schedule, first_day=WEDNESDAY, last_day=next_week)
    first, second = schedule.sessions.order_by("starts_at")
    session_services.cancel_session(by=world.ada, session=first)
    session_services.move_session(by=world.ada, session=second, starts_at=ny(next_week, 14), ends_at=ny(next_week, 15))
    assert book(world, TEN).session.starts_at == TEN  # never generated again
    assert book(world, ny(next_week, 10)).session.starts_at == ny(next_week, 10)
    with pytest.raises(Conflict):
        book(world, ny(next_week, 14))  # where it moved to
    with pytest.raises(Conflict):
        book(world, ny(FAR_WEDNESDAY, 10))
    session_services.cancel_schedule(by=world.ada, schedule=schedule)
    assert book(world, ny(FAR_WEDNESDAY, 10)).session.starts_at == ny(FAR_WEDNESDAY, 10)


# --- The generator ---------------------------------------------------------------------------


def test_generation_never_puts_an_occurrence_over_a_booking(world: World, group_theo_leads: TherapyGroup) -> None:
    """Schedules first, then every free Wednesday and Thursday slot of the 60 days booked:
    expanding the schedules over all of it then overlaps no booking."""
    weekly_schedule(world)  # Wednesdays 10:00-11:00 New York
    session_services.create_schedule(
        by=world.ada, kind="group", title="Process group", group=group_theo_leads, weekdays=[4],
        start_time=time(13, 30), duration_minutes=90, starts_on=NOW.date(), time_zone="America/Chicago",
    )  # fmt: skip
    offered = free_slots(clinician=world.dana, start=NOW, end=NOW + timedelta(days=60))
    wanted = [slot for slot in offered if slot.starts_at.astimezone(NOW.tzinfo).isoweekday() in (3, 4)]
    for slot in wanted:
        book(world, slot.starts_at)
    assert Booking.objects.count() == len(wanted) > 50
    assert session_services.generate_upcoming_sessions(horizon_days=70) >= 18
    generated = Session.objects.filter(schedule__isnull=False)
    assert generated.filter(occurrence_date__gt=NOW.date() + timedelta(days=56)).exists()
    for session in generated:
        hosts = list(session.facilitators.values_list("clinician_id", flat=True))
        assert not bookings_overlapping(hosts, session.starts_at, session.ends_at).exists(), session.occurrence_date
    assert not AuditEntry.objects.filter(action="session.overlaps_booking").exists()


def test_an_occurrence_over_a_booking_from_before_these_checks_is_made_and_flagged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Data from before (or a host added to a group later): the generator has nobody to
    answer, and the group's session is its members' too, so it is made and flagged."""
    schedule = weekly_schedule(world)
    family = hosted_session([world.dana], TEN, TEN + timedelta(minutes=50), kind="family", roster=[world.ava])
    booking = Booking.objects.create(
        session=family, clinician=world.dana, participant=world.ava, booked_by=world.pat,
        during=DateTimeTZRange(family.starts_at, family.ends_at, "[)"),
    )  # fmt: skip
    with caplog.at_level("WARNING", logger="iop.sessions"):
        assert session_services.generate_occurrences(schedule=schedule, first_day=WEDNESDAY, last_day=WEDNESDAY) == 1
    occurrence = schedule.sessions.get()
    entry = AuditEntry.objects.get(action="session.overlaps_booking")
    assert entry.actor is None and entry.data == {"booking": booking.pk, "clinician": world.dana.pk}
    assert entry.target_id == str(occurrence.pk)
    assert f"booking #{booking.pk}" in caplog.text and "sam" not in caplog.text and "ava" not in caplog.text
    # Once only: generating again finds the occurrence and leaves it alone.
    assert session_services.generate_occurrences(schedule=schedule, first_day=WEDNESDAY, last_day=WEDNESDAY) == 0
    assert AuditEntry.objects.filter(action="session.overlaps_booking").count() == 1


# --- A group's facilitators changing -----------------------------------------------------------


def test_making_a_booked_clinician_a_host_of_a_group_is_409_and_changes_nothing(
    world: World, theo: User, client_for: ClientFor, db_snapshot: Snapshot
) -> None:
    """The last way a clinician could be put in two places at once: a group whose session
    (or a schedule's occurrence not generated yet) overlaps dana's booked family session
    gains dana as a co-facilitator."""
    book(world)
    book(world, start=ny(FAR_WEDNESDAY, 10))
    ada = client_for(world.ada)
    with_session = make_group(program=make_program(), lead=theo, members=[world.sam])
    session_services.create_single_session(
        by=world.ada, kind="group", title="Process group", group=with_session,
        starts_at=ny(WEDNESDAY, 9), duration_minutes=180,
    )  # fmt: skip
    with_schedule = make_group(program=make_program(), lead=theo, members=[world.sam])
    # Its first occurrence is beyond the generator's horizon: only the schedule can clash.
    starts_on = (FAR_WEDNESDAY - timedelta(days=6)).isoformat()
    made = ada.post(SCHEDULES, schedule_body(with_schedule, start_time="09:30", starts_on=starts_on), format="json")
    assert made.status_code == 201, made.content
    assert not with_schedule.sessions.exists()
    before = db_snapshot()
    for group in (with_session, with_schedule):
        response = ada.patch(f"/api/v1/groups/{group.pk}/", {"co_facilitators": [world.dana.pk]}, format="json")
        assert refused_409(response) == "clinician_booked"
        response = ada.patch(f"/api/v1/groups/{group.pk}/", {"lead_facilitator": world.dana.pk}, format="json")
        assert refused_409(response) == "clinician_booked"
    assert db_snapshot() == before
    # Clear of her bookings, the same change is made.
    clear = make_group(program=make_program(), lead=theo, members=[world.sam])
    response = ada.patch(f"/api/v1/groups/{clear.pk}/", {"co_facilitators": [world.dana.pk]}, format="json")
    assert response.status_code == 200, response.content
