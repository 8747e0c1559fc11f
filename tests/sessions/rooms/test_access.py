"""Who may enter a live room (sessions/rooms/access.py): ticket, roster, age band,
guardians and consent, origin; each refusal is its close code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Consent, User
from server.asgi import application
from sessions.models import RoomRemoval, RosterEntry, Session
from tests.sessions.rooms.support import (
    Clients,
    audit,
    family_session,
    make_user,
    open_room,
    state,
    ticket_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def put_on_roster(session: Session, user: User, role: str = "participant") -> None:
    RosterEntry.objects.create(session=session, user=user, role=role)


async def test_missing_garbage_or_reused_ticket_closes_4401(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    assert await clients.refused(p0, room.session, path=f"/ws/sessions/{room.session.pk}/") == 4401
    assert await clients.refused(p0, room.session, ticket="not-a-ticket") == 4401
    assert await clients.refused(p0, room.session, ticket="") == 4401
    ticket = await ticket_for(p0)
    first = await clients.connect(p0, room.session, ticket=ticket)
    assert (await first.next())["type"] == "room.state"
    assert await clients.refused(p0, room.session, ticket=ticket) == 4401


async def test_inactive_user_ticket_closes_4401(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    ticket = await ticket_for(p0)
    await database_sync_to_async(User.objects.filter(pk=p0.pk).update)(is_active=False)
    assert await clients.refused(p0, room.session, ticket=ticket) == 4401


async def test_outsider_not_on_roster_closes_4403(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    assert await clients.refused(room.outsider, room.session) == 4403
    clinician = await make_user()
    assert await clients.refused(clinician, room.session) == 4403
    assert await audit("session.join") == []


async def test_unknown_session_closes_4404(clients: Clients) -> None:
    room = await open_room()
    ticket = await ticket_for(room.lead)
    path = f"/ws/sessions/{room.session.pk + 100_000}/?ticket={ticket}"
    assert await clients.refused(room.lead, room.session, path=path) == 4404
    # Ids far past any row (and past a 32-bit key) are refused the same way, not a crash.
    huge = f"/ws/sessions/{10**18 - 1}/?ticket={await ticket_for(room.lead)}"
    assert await clients.refused(room.lead, room.session, path=huge) == 4404


async def test_session_not_yet_open_closes_4409(clients: Clients) -> None:
    room = await open_room(starts_in=timedelta(hours=3))
    assert await clients.refused(room.participants[0], room.session) == 4409
    assert await clients.refused(room.lead, room.session) == 4409


async def test_ended_or_cancelled_session_closes_4409(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    await database_sync_to_async(Session.objects.filter(pk=room.session.pk).update)(ended_at=timezone.now())
    assert await clients.refused(room.participants[0], room.session) == 4409
    assert await clients.refused(room.lead, room.session) == 4409
    other = await open_room(admit_directly=True)
    await database_sync_to_async(Session.objects.filter(pk=other.session.pk).update)(cancelled_at=timezone.now())
    assert await clients.refused(other.participants[0], other.session) == 4409


async def test_adult_on_an_adolescent_group_roster_closes_4403(clients: Clients) -> None:
    room = await open_room(age_band="adolescent", admit_directly=True)
    adult = await make_user(adult=True)
    await put_on_roster(room.session, adult)
    assert await clients.refused(adult, room.session) == 4403
    # The adolescents themselves get in.
    teen = await clients.join(room.participants[0], room.session)
    assert state(teen)["you"]["role"] == "participant"


@pytest.mark.parametrize("roster_role", ["participant", "guardian"])
async def test_guardian_on_an_adolescent_group_roster_closes_4403(clients: Clients, roster_role: str) -> None:
    room = await open_room(age_band="adolescent", admit_directly=True)
    guardian = await make_user(guardian=True)
    await put_on_roster(room.session, guardian, roster_role)
    assert await clients.refused(guardian, room.session) == 4403


async def test_participant_removed_earlier_closes_4403(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    p0 = room.participants[0]
    await database_sync_to_async(RoomRemoval.objects.create)(session=room.session, user=p0, by=room.lead)
    assert await clients.refused(p0, room.session) == 4403


@pytest.mark.parametrize(
    "headers",
    [[], [(b"origin", b"null")], [(b"origin", b"https://evil.example")], [(b"origin", b"http://127.0.0.1:9")]],
    ids=["missing", "null", "foreign", "other-port"],
)
async def test_origin_outside_the_allow_list_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    room = await open_room(admit_directly=True)
    ticket = await ticket_for(room.participants[0])
    communicator = WebsocketCommunicator(
        application, f"/ws/sessions/{room.session.pk}/?ticket={ticket}", headers=headers
    )
    connected, _ = await communicator.connect()
    assert not connected
    assert await audit("session.join") == []
    # Daphne tells the refused consumer the socket is gone; without it the consumer is
    # still waiting on the channel layer when the test's event loop shuts down.
    await communicator.disconnect()


async def test_guardian_with_consent_joins_a_family_session_and_revoking_it_closes_4403(clients: Clients) -> None:
    session, _, teen, guardian, consent = await family_session("active")
    assert consent is not None
    socket = await clients.join(guardian, session)
    assert state(socket)["you"]["role"] == "guardian"
    await database_sync_to_async(account_services.revoke_consent)(by=teen, consent=consent)
    assert await socket.closed(timeout=1) == 4403
    assert await clients.refused(guardian, session) == 4403


async def test_guardian_whose_consent_was_revoked_closes_4403(clients: Clients) -> None:
    session, _, _, guardian, _ = await family_session("revoked")
    assert await clients.refused(guardian, session) == 4403


async def test_guardian_without_any_consent_closes_4403(clients: Clients) -> None:
    """Regression: _guardian_may_join (sessions/rooms/access.py) once filtered GuardianLink
    on consents__revoked_at__isnull=True, a LEFT OUTER JOIN that let a link with no consent
    at all through."""
    session, _, _, guardian, _ = await family_session("none")
    assert await clients.refused(guardian, session) == 4403


async def test_a_guardian_needs_a_consent_that_shares_the_schedule(clients: Clients) -> None:
    """Consent names what may be shared: one that shares only hours (or attendance) does
    not let a guardian into the family room."""
    session, _, _, guardian, consent = await family_session("active")
    assert consent is not None
    await database_sync_to_async(lambda: Consent.objects.filter(pk=consent.pk).update(scopes=["hours"]))()
    assert await clients.refused(guardian, session) == 4403


async def test_narrowing_consent_closes_the_guardians_socket_and_keeps_them_out(clients: Clients) -> None:
    session, _, teen, guardian, consent = await family_session("active")
    assert consent is not None
    socket = await clients.join(guardian, session)
    link = await database_sync_to_async(lambda: consent.link)()
    await database_sync_to_async(account_services.give_consent)(by=teen, link=link, scopes=["hours"])
    assert await socket.closed(timeout=1) == 4403
    assert await clients.refused(guardian, session) == 4403, "no way back in right after the narrowing"


async def test_a_guardians_room_access_ends_the_day_the_adolescent_turns_18(clients: Clients) -> None:
    """A minor's consent ends with their minority at once, before the task that revokes
    the link runs; the now-adult participant may consent anew."""
    session, _, teen, guardian, consent = await family_session("active")
    assert consent is not None
    today = timezone.localdate()
    await database_sync_to_async(
        lambda: User.objects.filter(pk=teen.pk).update(birth_date=today.replace(year=today.year - 18))
    )()
    a_year_ago = timezone.now().replace(year=today.year - 1)  # given while a minor
    await database_sync_to_async(lambda: Consent.objects.filter(pk=consent.pk).update(given_at=a_year_ago))()
    assert await clients.refused(guardian, session) == 4403
