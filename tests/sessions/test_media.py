"""GET /api/v1/sessions/{id}/media/ (sessions/media.py): ICE servers with TURN credentials
of the shared-secret scheme, LiveKit tokens per role, and the room's refusals, each
changing nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ConsentScope, User
from server.redis_client import get_redis
from sessions.models import RoomRemoval, RosterEntry, Session
from sessions.rooms import presence_store
from sessions.rooms.store import RoomKeys
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory, make_group, make_program, make_session

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]

TURN_SECRET = "north-wind-7"
TURN: dict[str, Any] = {
    "STUN_URLS": ["stun:turn.example.org:3478"],
    "TURN_URLS": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
    "TURN_SECRET": TURN_SECRET,
    "TURN_TTL_SECONDS": 600,
}
LIVEKIT = {
    "MEDIA_BACKEND": "livekit",
    "LIVEKIT_URL": "wss://sfu.example.org",
    "LIVEKIT_API_KEY": "APIkey1",
    "LIVEKIT_API_SECRET": "livekit-secret-with-enough-length-0123456789",
}


@pytest.fixture
def now() -> datetime:
    """A whole second within the session (its credentials' clock is frozen there)."""
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        "lead": UserFactory.create(first_name="Lee"),
        "co": UserFactory.create(first_name="Cole"),
        **{f"p{i}": UserFactory.create(adolescent=True, first_name=f"P{i}") for i in range(8)},
    }


@pytest.fixture
def session(people: dict[str, User]) -> Session:
    """An adolescent group session open now (started 5 minutes ago, 90 minutes long)."""
    participants = [user for name, user in people.items() if name.startswith("p")]
    group = make_group(
        program=make_program(age_band="adolescent"), lead=people["lead"], co=[people["co"]], members=participants
    )
    return make_session(
        group=group, hosts=[people["lead"], people["co"]], roster=participants, starts_in=timedelta(minutes=-5)
    )


def in_room(session: Session, user: User, *, admitted: bool = True, host: bool = False) -> None:
    """The user's socket arrives (the room's own Redis script), admitted or left waiting."""
    presence_store.enter(session.pk, user.pk, f"c{user.pk}", host=host, admit_directly=admitted, grace_seconds=120)


def media(client_for: Clients, user: User, session: Session) -> tuple[int, dict]:
    response = client_for(user).get(f"/api/v1/sessions/{session.pk}/media/")
    return response.status_code, response.json()


def expected_password(username: str) -> str:
    return base64.b64encode(hmac.new(TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()


@override_settings(**TURN)
def test_turn_credentials_are_the_shared_secret_scheme(
    client_for: Clients, session: Session, people: dict[str, User], now: datetime
) -> None:
    p0 = people["p0"]
    in_room(session, p0)
    with time_machine.travel(now, tick=False):
        response = client_for(p0).get(f"/api/v1/sessions/{session.pk}/media/")
    assert response.status_code == 200, response.json()
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    expiry = int(now.timestamp()) + 600
    assert body == {
        "mode": "mesh",
        "ice_servers": [
            {"urls": TURN["STUN_URLS"]},
            {
                "urls": TURN["TURN_URLS"],
                "username": f"{expiry}:{p0.pk}",
                "credential": expected_password(f"{expiry}:{p0.pk}"),
            },
        ],
        "expires_at": datetime.fromtimestamp(expiry, UTC).isoformat(),
    }


@override_settings(**{**TURN, "TURN_TTL_SECONDS": 120})
def test_the_credential_expires_with_the_ttl_and_differs_per_person(
    client_for: Clients, session: Session, people: dict[str, User], now: datetime
) -> None:
    in_room(session, people["p0"])
    with time_machine.travel(now, tick=False):
        _, mine = media(client_for, people["p0"], session)
        _, host = media(client_for, people["lead"], session)  # a host not connected yet
    expiry = int(now.timestamp()) + 120
    turn = mine["ice_servers"][1]
    assert turn["username"] == f"{expiry}:{people['p0'].pk}"
    assert host["ice_servers"][1]["username"] == f"{expiry}:{people['lead'].pk}"
    assert host["ice_servers"][1]["credential"] != turn["credential"]
    assert mine["expires_at"] == (now + timedelta(seconds=120)).isoformat()


def test_without_stun_or_turn_configured_the_list_is_empty(
    client_for: Clients, session: Session, people: dict[str, User]
) -> None:
    in_room(session, people["p1"])
    status, body = media(client_for, people["p1"], session)
    assert status == 200 and body["ice_servers"] == [] and body["mode"] == "mesh"


@override_settings(**TURN)
@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("waiting", 403, "not_admitted"),
        ("admitted_but_not_connected", 403, "not_admitted"),
        ("removed", 403, "forbidden"),
        ("not_on_roster", 403, "forbidden"),
        ("admin_not_on_roster", 403, "forbidden"),
        ("guardian_in_adolescent_group", 403, "forbidden"),
        ("ended", 409, "session_ended"),
        ("cancelled", 409, "session_cancelled"),
        ("not_open_yet", 409, "session_scheduled"),
        ("no_such_session", 404, "not_found"),
    ],
)
def test_refusals_give_nothing_and_change_nothing(
    client_for: Clients,
    session: Session,
    people: dict[str, User],
    db_snapshot: Callable[[], dict[str, int]],
    case: str,
    status: int,
    code: str,
) -> None:
    user = people["p0"]
    url = f"/api/v1/sessions/{session.pk}/media/"
    if case == "waiting":
        in_room(session, user, admitted=False)
    elif case == "admitted_but_not_connected":
        get_redis().sadd(RoomKeys(session.pk).admitted, user.pk)
    elif case == "removed":
        in_room(session, user)
        RoomRemoval.objects.create(session=session, user=user, by=people["lead"])
    elif case == "not_on_roster":
        user = UserFactory.create(adolescent=True)
        in_room(session, user)
    elif case == "admin_not_on_roster":
        user = UserFactory.create(admin=True)
    elif case == "guardian_in_adolescent_group":
        user = UserFactory.create(guardian=True)
        link = GuardianLinkFactory.create(
            guardian=user, adolescent=people["p0"], created_by=UserFactory.create(admin=True)
        )
        ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE])
        RosterEntry.objects.create(session=session, user=user, role="guardian")
        in_room(session, user)
    elif case == "ended":
        in_room(session, user)
        Session.objects.filter(pk=session.pk).update(ended_at=timezone.now())
    elif case == "cancelled":
        in_room(session, user)
        Session.objects.filter(pk=session.pk).update(cancelled_at=timezone.now())
    elif case == "not_open_yet":
        Session.objects.filter(pk=session.pk).update(
            starts_at=timezone.now() + timedelta(days=1), ends_at=timezone.now() + timedelta(days=1, hours=1)
        )
    elif case == "no_such_session":
        url = f"/api/v1/sessions/{session.pk + 1000}/media/"
    client = client_for(user)
    before = db_snapshot()
    response = client.get(url)
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "ice_servers" not in body and TURN_SECRET not in response.content.decode()
    assert db_snapshot() == before


def test_bad_ids_and_anonymous_callers_are_refused(
    api: APIClient, client_for: Clients, people: dict[str, User]
) -> None:
    assert api.get("/api/v1/sessions/1/media/").status_code == 401
    for bad in ("abc", "1.5", "-1", str(2**64)):
        response = client_for(people["p0"]).get(f"/api/v1/sessions/{bad}/media/")
        assert response.status_code == 404, (bad, response.status_code)
        assert response.json()["error"]["code"] == "not_found"


@override_settings(MESH_MAX_PARTICIPANTS=4)
def test_above_the_mesh_limit_the_endpoint_says_the_room_needs_the_sfu(
    client_for: Clients, session: Session, people: dict[str, User]
) -> None:
    for name in ("p0", "p1", "p2"):
        in_room(session, people[name])
    in_room(session, people["lead"], host=True)
    assert media(client_for, people["p0"], session)[0] == 200  # four
    in_room(session, people["p3"])
    status, body = media(client_for, people["p0"], session)
    assert (status, body["error"]["code"]) == (409, "sfu_required")
    # A breakout is its own mesh: two people there.
    get_redis().hset(RoomKeys(session.pk).breakouts, mapping={str(people["p0"].pk): 1, str(people["p1"].pk): 1})
    assert media(client_for, people["p0"], session)[0] == 200


def _claims(token: str) -> dict:
    return jwt.decode(
        token, LIVEKIT["LIVEKIT_API_SECRET"], algorithms=["HS256"], issuer=LIVEKIT["LIVEKIT_API_KEY"], leeway=0
    )


@override_settings(**LIVEKIT, MESH_MAX_PARTICIPANTS=2)
def test_livekit_tokens_follow_the_role_and_expire_with_the_session(
    client_for: Clients, session: Session, people: dict[str, User], now: datetime
) -> None:
    for name in ("p0", "p1", "p2"):  # more than the mesh takes: the SFU does not mind
        in_room(session, people[name])
    get_redis().hset(RoomKeys(session.pk).breakouts, str(people["p1"].pk), 3)
    with time_machine.travel(now - timedelta(minutes=1), tick=False):
        session.refresh_from_db()
        answers = {name: media(client_for, people[name], session) for name in ("lead", "p0", "p1")}
    for status, body in answers.values():
        assert status == 200, body
        assert body["mode"] == "livekit" and body["url"] == LIVEKIT["LIVEKIT_URL"]
        assert body["expires_at"] == session.ends_at.replace(microsecond=0).isoformat()

    lead = _claims(answers["lead"][1]["token"])
    assert lead["sub"] == str(people["lead"].pk)
    assert lead["video"] == {
        "roomAdmin": True,
        "roomJoin": True,
        "room": f"session-{session.pk}",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert lead["exp"] == int(session.ends_at.timestamp())
    p0 = _claims(answers["p0"][1]["token"])
    assert p0["sub"] == str(people["p0"].pk)
    assert p0["video"] == {
        "roomJoin": True,
        "room": f"session-{session.pk}",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    p1 = _claims(answers["p1"][1]["token"])
    assert p1["video"]["room"] == answers["p1"][1]["room"] == f"session-{session.pk}-breakout-3"
    for claims in (lead, p0, p1):  # nothing about the person but their id
        assert not {"name", "metadata", "attributes"} & set(claims)


@override_settings(**LIVEKIT)
def test_no_livekit_token_before_admission(
    client_for: Clients, session: Session, people: dict[str, User], db_snapshot: Callable[[], dict[str, int]]
) -> None:
    in_room(session, people["p0"], admitted=False)
    client = client_for(people["p0"])
    before = db_snapshot()
    body = client.get(f"/api/v1/sessions/{session.pk}/media/").json()
    assert body["error"]["code"] == "not_admitted"
    assert "token" not in body
    assert db_snapshot() == before
