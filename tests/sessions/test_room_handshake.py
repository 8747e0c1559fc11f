"""The cost of a room handshake. A reconnect storm (every client of a restarted process,
or of all of them after Redis came back) pays it once per socket, so its database
queries and Redis round trips are counted: one more in the handshake's path fails here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

from accounts import services as account_services
from accounts.services import TicketHolder
from sessions import room_services
from tests.sessions.rooms import open_room

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The first command of every request sent to Redis (a pipeline is one request)."""
    sent: list[str] = []
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: bytes | list[bytes], check_health: bool = True) -> None:
        first = command[0] if isinstance(command, list) else command
        sent.append(first[:40].decode(errors="replace"))
        original(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", counting)
        yield sent


def test_a_participant_handshake_costs_a_fixed_number_of_queries_and_round_trips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = open_room.func(size=2, admit_directly=True)
    first, second = room.participants
    # The first arrival loads the scripts and starts the room's seq counter.
    warm = room_services.authorize_holder(session_id=room.session.pk, holder=TicketHolder(first.pk))
    room_services.enter_room(member=warm, conn_id="warm")
    ticket = account_services.issue_realtime_ticket(user=second).ticket

    with CaptureQueriesContext(connection) as queries, redis_round_trips(monkeypatch) as redis_requests:
        # As the consumer does: the ticket, (registering with the hub), the checks, the arrival.
        holder = account_services.consume_realtime_ticket(ticket=ticket)
        assert holder is not None
        member = room_services.authorize_holder(session_id=room.session.pk, holder=holder)
        entry = room_services.enter_room(member=member, conn_id="c1")

    assert entry.admitted and entry.state["you"]["id"] == second.pk
    sql = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    # Ticket's user, session, facilitators, roster entry (with any removal); the join's
    # transaction (attendance segment, then the audit entry under the chain's lock); the
    # room.state (session, names, roster roles).
    assert sql == [
        *["SELECT"] * 4,
        "BEGIN", "INSERT", "SELECT", "SELECT", "INSERT", "COMMIT",
        *["SELECT"] * 3,
    ], "\n".join(query["sql"] for query in queries.captured_queries)  # fmt: skip
    # The ticket (GETDEL), the arrival (one script), presence.joined (one script) and the
    # room.state (one pipeline).
    assert len(redis_requests) == 4, redis_requests
