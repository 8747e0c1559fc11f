"""The family room of a booked session (issue 22, item 6): the booking guardian joins it;
they never join their adolescent's group or individual sessions, an unlinked guardian never
joins, and ending the guardian link closes their socket and keeps them out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ConsentScope, GuardianLink, User
from bookings.services import book_family_session
from bookings.slots import free_slots
from sessions.models import RosterEntry, RosterRole, Session
from tests.bookings.helpers import add_window
from tests.factories import (
    ConsentFactory,
    GuardianLinkFactory,
    UserFactory,
    make_enrollment,
    make_group,
    make_program,
    make_session,
)
from tests.sessions.rooms.support import Clients, state

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def booked_family_room() -> tuple[Session, User, User, User]:
    """A family session booked by the guardian, then moved to be open now (the booking
    rules are tested in tests/bookings; here only the room matters)."""
    clinician = UserFactory.create(first_name="Dee")
    teen = UserFactory.create(adolescent=True, first_name="Ava")
    guardian = UserFactory.create(guardian=True, first_name="Pat")
    admin = UserFactory.create(admin=True)
    link = GuardianLinkFactory.create(guardian=guardian, adolescent=teen, created_by=admin)
    ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE])
    make_enrollment(participant=teen, program=make_program(age_band="adolescent"), clinician=clinician)
    for weekday in range(1, 8):
        add_window(clinician, weekday, "00:00", "23:00")
    start = timezone.now() + timedelta(days=2)
    slot = free_slots(clinician=clinician, start=start, end=start + timedelta(days=2))[0]
    booking = book_family_session(by=guardian, clinician=clinician, participant=teen, slot_start=slot.starts_at)
    now = timezone.now()
    Session.objects.filter(pk=booking.session_id).update(
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(minutes=45)
    )
    return Session.objects.get(pk=booking.session_id), clinician, teen, guardian


@database_sync_to_async
def adolescents_other_sessions(teen: User, clinician: User, guardian: User) -> list[Session]:
    """The adolescent's group and individual sessions, open now, with the guardian put on
    their rosters as a guardian (as a mistaken roster edit would)."""
    group = make_group(program=make_program(age_band="adolescent"), lead=clinician, members=[teen])
    sessions = [
        make_session(group=group, hosts=[clinician], roster=[teen], starts_in=timedelta(minutes=-5)),
        make_session(kind="individual", hosts=[clinician], roster=[teen], starts_in=timedelta(minutes=-5)),
    ]
    for session in sessions:
        Session.objects.filter(pk=session.pk).update(admit_directly=True)
        RosterEntry.objects.create(session=session, user=guardian, role=RosterRole.GUARDIAN)
    return sessions


async def test_the_booking_guardian_joins_the_family_room(clients: Clients) -> None:
    session, clinician, _, guardian = await booked_family_room()
    host = await clients.join(clinician, session)
    assert state(host)["you"]["role"] == "lead"
    socket = await clients.join(guardian, session)
    assert state(socket)["you"]["role"] == "guardian"


async def test_the_guardian_never_joins_the_adolescents_group_or_individual_sessions(clients: Clients) -> None:
    _, clinician, teen, guardian = await booked_family_room()
    for other in await adolescents_other_sessions(teen, clinician, guardian):
        assert await clients.refused(guardian, other) == 4403
        # The adolescent does get in: only the guardian is kept out.
        assert state(await clients.join(teen, other))["you"]["role"] == "participant"


async def test_an_unlinked_guardian_on_the_roster_is_refused(clients: Clients) -> None:
    session, _, _, _ = await booked_family_room()

    @database_sync_to_async
    def stranger_on_roster() -> User:
        # Linked, with consent, but to another adolescent.
        stranger = UserFactory.create(guardian=True)
        link = GuardianLinkFactory.create(
            guardian=stranger, adolescent=UserFactory.create(adolescent=True), created_by=UserFactory.create(admin=True)
        )
        ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE])
        RosterEntry.objects.create(session=session, user=stranger, role=RosterRole.GUARDIAN)
        return stranger

    assert await clients.refused(await stranger_on_roster(), session) == 4403


async def test_ending_the_guardian_link_closes_the_socket_and_keeps_them_out(clients: Clients) -> None:
    session, _, teen, guardian = await booked_family_room()
    socket = await clients.join(guardian, session)

    @database_sync_to_async
    def revoke_link() -> None:
        link = GuardianLink.objects.get(guardian=guardian, adolescent=teen)
        account_services.revoke_guardian_link(by=UserFactory.create(admin=True), link=link)

    await revoke_link()
    assert await socket.closed(timeout=1) == 4403
    assert await clients.refused(guardian, session) == 4403
