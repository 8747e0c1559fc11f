"""Booking, cancelling and rescheduling family sessions (bookings.services): who may, the
session they make, the cut-off to the minute, notices, and the database's own refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework.exceptions import ValidationError as ApiValidationError

from accounts.models import Consent, ConsentScope, User
from audit.models import AuditEntry
from bookings import services, slots
from bookings.models import Booking
from bookings.slots import Slot, free_slots
from notifications.models import Notification
from server.errors import Conflict
from sessions import services as session_services
from sessions.models import RosterEntry, Session
from tests.bookings.booking_support import NOW, THURSDAY, WEDNESDAY, World, frozen, make_world, ny
from tests.factories import GuardianLinkFactory, UserFactory

pytestmark = pytest.mark.django_db

TEN = ny(WEDNESDAY, 10)


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def book(world: World, by: User, participant: User | None = None, start: Any = TEN) -> Booking:
    return services.book_family_session(
        by=by, clinician=world.dana, participant=participant or world.ava, slot_start=start
    )


def kinds_by_user(kind: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for username in Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True):
        counts[username] = counts.get(username, 0) + 1
    return counts


# --- Booking -------------------------------------------------------------------------------


def test_a_guardian_books_a_family_session_for_their_adolescent(world: World) -> None:
    booking = book(world, world.pat)
    session = booking.session
    assert (session.kind, session.starts_at, session.ends_at) == ("family", TEN, TEN + timedelta(minutes=50))
    assert session.cancelled_at is None and session.service == "family_therapy"
    assert {(f.clinician.username, f.role) for f in session.facilitators.all()} == {("dana", "lead")}
    roster = {(entry.user.username, entry.role) for entry in session.roster.all()}
    assert roster == {("ava", "participant"), ("pat", "guardian")}
    assert (booking.clinician, booking.participant, booking.booked_by) == (world.dana, world.ava, world.pat)
    assert (booking.during.lower, booking.during.upper) == (session.starts_at, session.ends_at)
    entry = AuditEntry.objects.get(action="booking.create")
    assert entry.actor == world.pat and entry.data == {"session": session.pk, "clinician": world.dana.pk,
                                                       "participant": world.ava.pk}  # fmt: skip


def test_an_adult_books_for_themselves_and_staff_for_anyone_in_their_care(world: World) -> None:
    own = book(world, world.sam, world.sam)
    assert {(e.user.username, e.role) for e in own.session.roster.all()} == {("sam", "participant")}
    by_clinician = book(world, world.dana, world.ava, ny(WEDNESDAY, 11))
    assert {e.user.username for e in by_clinician.session.roster.all()} == {"ava"}
    by_admin = book(world, world.ada, world.sam, ny(WEDNESDAY, 12))
    assert by_admin.booked_by == world.ada


def _refused(world: World, db_snapshot: Callable[[], dict[str, int]], call: Callable[[], object]) -> Exception:
    before = db_snapshot()
    with pytest.raises((ValidationError, PermissionDenied, ApiValidationError, Conflict)) as caught:
        call()
    assert db_snapshot() == before
    return caught.value


def test_who_may_not_book(world: World, db_snapshot: Callable[[], dict[str, int]]) -> None:
    stranger = UserFactory.create(guardian=True)
    refused = _refused(world, db_snapshot, lambda: book(world, stranger))
    assert isinstance(refused, ValidationError) and refused.message_dict == {"participant": ["No such participant."]}
    # Linked, but the adolescent shares only hours: ask them (403), not "no such person".
    linked = UserFactory.create(guardian=True)
    link = GuardianLinkFactory.create(guardian=linked, adolescent=world.ava, created_by=world.ada)
    Consent.objects.create(link=link, scopes=[ConsentScope.HOURS])
    assert isinstance(_refused(world, db_snapshot, lambda: book(world, linked)), PermissionDenied)
    # The adolescent themself, and a participant for someone else.
    assert isinstance(_refused(world, db_snapshot, lambda: book(world, world.ava)), PermissionDenied)
    assert isinstance(_refused(world, db_snapshot, lambda: book(world, world.sam, world.ava)), PermissionDenied)
    # A clinician who does not treat the participant.
    theo = UserFactory.create(username="theo")
    refused = _refused(world, db_snapshot, lambda: book(world, theo))
    assert isinstance(refused, ValidationError) and "participant" in refused.message_dict
    # A guardian is no participant; the admin hears why, others the uniform refusal.
    refused = _refused(world, db_snapshot, lambda: book(world, world.ada, world.pat))
    assert isinstance(refused, ValidationError) and refused.message_dict["participant"] == [
        "Only active participants can be booked."
    ]


def test_the_booked_clinician_must_treat_the_participant(world: World, db_snapshot: Callable[[], Any]) -> None:
    theo = UserFactory.create(username="theo")
    for clinician in (theo, world.ada, world.sam):

        def call(clinician: User = clinician) -> Booking:
            return services.book_family_session(
                by=world.pat, clinician=clinician, participant=world.ava, slot_start=TEN
            )

        refused = _refused(world, db_snapshot, call)
        assert isinstance(refused, ValidationError)
        assert refused.message_dict == {"clinician": ["No such clinician for this participant."]}


def test_a_taken_or_invalid_slot_is_refused_and_nothing_is_written(
    world: World, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    book(world, world.pat)
    refused = _refused(world, db_snapshot, lambda: book(world, world.sam, world.sam))
    assert isinstance(refused, Conflict) and refused.get_codes() == "slot_taken"
    refused = _refused(world, db_snapshot, lambda: book(world, world.sam, world.sam, ny(WEDNESDAY, 11, 5)))
    assert isinstance(refused, ApiValidationError)
    assert refused.get_codes() == {"slot_start": ["not_on_slot_boundary"]}
    refused = _refused(world, db_snapshot, lambda: book(world, world.sam, world.sam, ny(NOW.date(), 14)))
    assert isinstance(refused, ApiValidationError) and refused.get_codes() == {"slot_start": ["inside_notice_period"]}


def test_the_database_refuses_an_overlap_the_slot_check_missed(
    world: World, db_snapshot: Callable[[], dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exclusion constraint, not the check, has the last word: with the check made
    blind, the second overlapping booking is still a 409 and leaves nothing behind."""
    book(world, world.pat)
    monkeypatch.setattr(
        services, "check_bookable", lambda **kw: Slot(kw["slot_start"], kw["slot_start"] + timedelta(minutes=50))
    )
    refused = _refused(world, db_snapshot, lambda: book(world, world.sam, world.sam, TEN + timedelta(minutes=20)))
    assert isinstance(refused, Conflict) and refused.get_codes() == "slot_taken"


def test_booking_tells_the_clinician_and_the_roster(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(world, world.pat)
    assert kinds_by_user("booking_confirmed") == {"dana": 1, "ava": 1, "pat": 1}
    notice = Notification.objects.get(kind="booking_confirmed", recipient=world.pat)
    assert notice.data == {"date": "2027-03-03", "time": "10:00", "link": f"/sessions/{booking.session_id}/"}
    assert notice.about == world.ava
    # A retry of the notice (a duplicate on_commit, a re-run) tells nobody twice.
    from bookings.notices import notify_booking_confirmed

    assert notify_booking_confirmed(booking_id=booking.pk) == 0
    assert Notification.objects.filter(kind="booking_confirmed").count() == 3


# --- Cancelling ----------------------------------------------------------------------------


def test_the_guardian_cancels_before_the_cut_off_and_the_slot_is_free_again(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    booking = book(world, world.pat)
    day = (ny(WEDNESDAY, 0), ny(THURSDAY, 0))
    assert TEN not in [slot.starts_at for slot in free_slots(clinician=world.dana, start=day[0], end=day[1])]
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_booking(by=world.pat, booking=booking)
    booking.refresh_from_db()
    assert booking.cancelled_at == NOW and booking.cancelled_by == world.pat and booking.session.cancelled_at
    assert TEN in [slot.starts_at for slot in free_slots(clinician=world.dana, start=day[0], end=day[1])]
    # Everyone on it hears, except who cancelled.
    assert kinds_by_user("session_cancelled") == {"dana": 1, "ava": 1}
    assert AuditEntry.objects.filter(action="booking.cancel", data={"inside_cutoff": False}).count() == 1
    # The slot can be booked again.
    assert book(world, world.sam, world.sam).session.starts_at == TEN


@pytest.mark.parametrize(
    ("minutes_before_cutoff", "allowed"), [(1, True), (0, True), (-1, False)], ids=["minute-before", "at", "after"]
)
def test_the_cut_off_to_the_minute_for_family(world: World, minutes_before_cutoff: int, allowed: bool) -> None:
    booking = book(world, world.pat)
    at = TEN - timedelta(hours=24) - timedelta(minutes=minutes_before_cutoff)
    with time_machine.travel(at, tick=False):
        for person in (world.pat, world.ava):
            if allowed:
                continue
            with pytest.raises(Conflict) as refused:
                services.cancel_booking(by=person, booking=booking)
            assert refused.value.get_codes() == "inside_cancellation_cutoff"
            assert "24 hours before" in str(refused.value.detail)
        if allowed:
            services.cancel_booking(by=world.ava, booking=booking)
    booking.refresh_from_db()
    assert (booking.cancelled_at is not None) == allowed


def test_staff_cancel_inside_the_cut_off_only_with_a_reason(world: World) -> None:
    booking = book(world, world.pat)
    with time_machine.travel(TEN - timedelta(hours=2), tick=False):
        with pytest.raises(ValidationError) as refused:
            services.cancel_booking(by=world.dana, booking=booking, reason="   ")
        assert "reason" in refused.value.message_dict
        assert Booking.objects.get(pk=booking.pk).cancelled_at is None
        services.cancel_booking(by=world.dana, booking=booking, reason="Clinician unwell")
    booking.refresh_from_db()
    assert booking.cancel_reason == "Clinician unwell" and booking.session.cancelled_at is not None
    # The reason is not in the audit log (it may be clinical).
    assert AuditEntry.objects.get(action="booking.cancel").data == {"inside_cutoff": True}


def test_who_may_not_cancel(world: World, db_snapshot: Callable[[], dict[str, int]]) -> None:
    booking = book(world, world.pat)
    theo = UserFactory.create(username="theo")
    other_guardian = UserFactory.create(guardian=True)
    for person in (theo, other_guardian, world.sam):
        before = db_snapshot()
        with pytest.raises(PermissionDenied):
            services.cancel_booking(by=person, booking=booking)
        assert db_snapshot() == before
    # A guardian whose consent ended may no longer change it.
    Consent.objects.filter(link__guardian=world.pat).update(revoked_at=NOW)
    with pytest.raises(PermissionDenied):
        services.cancel_booking(by=world.pat, booking=booking)


def test_a_cancelled_booking_cannot_be_cancelled_again(world: World) -> None:
    booking = book(world, world.pat)
    services.cancel_booking(by=world.pat, booking=booking)
    with pytest.raises(Conflict) as refused:
        services.cancel_booking(by=world.dana, booking=booking)
    assert refused.value.get_codes() == "booking_cancelled"


def test_cancelling_the_session_directly_cancels_its_booking_and_moving_it_is_refused(world: World) -> None:
    booking = book(world, world.pat)
    with pytest.raises(Conflict) as refused:
        session_services.move_session(
            by=world.dana, session=booking.session, starts_at=TEN + timedelta(hours=1), ends_at=TEN + timedelta(hours=2)
        )
    assert refused.value.get_codes() == "booking_reschedule"
    session_services.cancel_session(by=world.dana, session=booking.session)
    booking.refresh_from_db()
    assert booking.cancelled_at is not None and booking.cancelled_by == world.dana


# --- Rescheduling --------------------------------------------------------------------------


def test_reschedule_moves_the_session_and_frees_the_old_slot(world: World) -> None:
    booking = book(world, world.pat)
    new = ny(THURSDAY, 14)
    services.reschedule_booking(by=world.pat, booking=booking, slot_start=new)
    booking.refresh_from_db()
    session = Session.objects.get(pk=booking.session_id)
    assert (session.starts_at, session.ends_at, session.moved_at) == (new, new + timedelta(minutes=50), NOW)
    assert (booking.during.lower, booking.during.upper) == (session.starts_at, session.ends_at)
    assert book(world, world.sam, world.sam).session.starts_at == TEN  # the old slot is free
    # Its own slot does not block it: moving back next to where it is works.
    services.reschedule_booking(by=world.dana, booking=booking, slot_start=ny(THURSDAY, 15))


def test_reschedule_to_a_taken_slot_changes_nothing(world: World, db_snapshot: Callable[[], Any]) -> None:
    booking = book(world, world.pat)
    book(world, world.sam, world.sam, ny(THURSDAY, 14))
    before = db_snapshot()
    with pytest.raises(Conflict):
        services.reschedule_booking(by=world.pat, booking=booking, slot_start=ny(THURSDAY, 14))
    assert db_snapshot() == before
    session = Session.objects.get(pk=booking.session_id)
    assert (session.starts_at, session.moved_at) == (TEN, None)


def test_reschedule_inside_the_cut_off_is_for_staff_only(world: World) -> None:
    booking = book(world, world.pat)
    with time_machine.travel(TEN - timedelta(hours=24, minutes=-1), tick=False):
        with pytest.raises(Conflict) as refused:
            services.reschedule_booking(by=world.pat, booking=booking, slot_start=ny(THURSDAY, 14))
        assert refused.value.get_codes() == "inside_cancellation_cutoff"
        services.reschedule_booking(by=world.dana, booking=booking, slot_start=ny(THURSDAY, 14))
    assert Session.objects.get(pk=booking.session_id).starts_at == ny(THURSDAY, 14)


def test_reschedule_confirms_the_new_time_once(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(world, world.pat)
    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule_booking(by=world.pat, booking=booking, slot_start=ny(THURSDAY, 14))
    from bookings.notices import notify_booking_confirmed

    assert notify_booking_confirmed(booking_id=booking.pk) == 0  # a retry tells nobody again
    times = sorted(
        Notification.objects.filter(kind="booking_confirmed", recipient=world.ava).values_list("data", flat=True),
        key=str,
    )
    assert [t["time"] for t in times] == ["10:00", "14:00"]


# --- Cancelling any session tells its people ------------------------------------------------


def test_cancelling_a_schedule_tells_each_occurrences_people(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    schedule = session_services.create_schedule(
        by=world.ada, kind="individual", title="Individual therapy", weekdays=[2, 4],
        start_time=ny(NOW.date(), 9).time(), duration_minutes=50, starts_on=NOW.date(),
        participant=world.sam, clinician=world.dana,
    )  # fmt: skip
    session_services.generate_occurrences(schedule=schedule, first_day=NOW.date(), last_day=THURSDAY)
    assert schedule.sessions.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        session_services.cancel_schedule(by=world.ada, schedule=schedule)
    assert kinds_by_user("session_cancelled") == {"dana": 2, "sam": 2}
    assert not RosterEntry.objects.filter(user=world.ada).exists()
    assert slots.booking_policy(world.dana).session_minutes == 50
