"""The LiveKit server API calls (sessions/sfu.py, sessions/sfu_tasks.py) against a local
HTTP server that stands in for LiveKit: it checks each request's path, its bearer JWT
(signed with the API secret, room admin of that room) and its protobuf body."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from django.test import override_settings
from livekit.protocol.models import ParticipantInfo, TrackInfo, TrackType
from livekit.protocol.room import MuteRoomTrackRequest, MuteRoomTrackResponse, RoomParticipantIdentity

from sessions import sfu
from sessions.sfu_tasks import MAX_ATTEMPTS, sfu_mute_participant, sfu_remove_participant

KEY, SECRET = "APIkey1", "livekit-secret-with-enough-length-0123456789"
SERVICE = "/twirp/livekit.RoomService/"


@dataclass
class Call:
    method: str  # the Twirp method, e.g. RemoveParticipant
    room_grant: str
    body: bytes


@dataclass
class FakeLiveKit:
    """Answers each Twirp method from ``answers`` (status, body), default 200 and an empty
    message; records every request after checking its path and token."""

    answers: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        if not path.startswith(SERVICE):
            self.problems.append(f"unexpected path {path}")
            return 404, b'{"code": "bad_route", "msg": "no such method"}'
        if headers.get("Content-Type") != "application/protobuf":
            self.problems.append("not a protobuf body")
        method = path.removeprefix(SERVICE)
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=KEY)
        except jwt.PyJWTError as error:
            self.problems.append(f"bad token: {error}")
            return 401, b'{"code": "unauthenticated", "msg": "bad token"}'
        if scheme != "Bearer" or claims["video"].get("roomAdmin") is not True:
            self.problems.append(f"not a room admin token: {claims}")
        self.calls.append(Call(method, claims["video"].get("room", ""), body))
        queue = self.answers.get(method)
        return queue.pop(0) if queue else (200, b"")


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    fake = FakeLiveKit()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, answer = fake.handle(self.path, self.headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/protobuf" if status == 200 else "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = {
        "MEDIA_BACKEND": "livekit",
        "LIVEKIT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "LIVEKIT_API_KEY": KEY,
        "LIVEKIT_API_SECRET": SECRET,
    }
    try:
        with override_settings(**settings):
            yield fake
    finally:
        server.shutdown()
        server.server_close()
    assert fake.problems == []


NOT_FOUND = (404, b'{"code": "not_found", "msg": "participant not found"}')
UNAVAILABLE = (503, b'{"code": "unavailable", "msg": "restarting"}')


def identity(call: Call) -> RoomParticipantIdentity:
    return RoomParticipantIdentity.FromString(call.body)


def test_removal_disconnects_the_person_from_each_room(livekit: FakeLiveKit) -> None:
    livekit.answers["RemoveParticipant"] = [(200, b""), NOT_FOUND]  # not in the breakout: done
    sfu_remove_participant.apply(args=(42, ["session-7", "session-7-breakout-2"])).get()
    assert [call.method for call in livekit.calls] == ["RemoveParticipant", "RemoveParticipant"]
    assert [(identity(c).room, identity(c).identity, c.room_grant) for c in livekit.calls] == [
        ("session-7", "42", "session-7"),
        ("session-7-breakout-2", "42", "session-7-breakout-2"),
    ]


def test_mute_mutes_each_live_microphone_only(livekit: FakeLiveKit) -> None:
    tracks = [
        TrackInfo(sid="TR_mic", type=TrackType.AUDIO, muted=False),
        TrackInfo(sid="TR_cam", type=TrackType.VIDEO, muted=False),
        TrackInfo(sid="TR_mic2", type=TrackType.AUDIO, muted=True),
    ]
    info = ParticipantInfo(identity="42", tracks=tracks)
    livekit.answers["GetParticipant"] = [(200, info.SerializeToString())]
    livekit.answers["MutePublishedTrack"] = [(200, MuteRoomTrackResponse(track=tracks[0]).SerializeToString())]
    sfu_mute_participant.apply(args=(42, ["session-7"])).get()
    get, mute = livekit.calls
    assert (get.method, identity(get).room, identity(get).identity) == ("GetParticipant", "session-7", "42")
    request = MuteRoomTrackRequest.FromString(mute.body)
    assert mute.method == "MutePublishedTrack" and mute.room_grant == "session-7"
    assert (request.room, request.identity, request.track_sid, request.muted) == ("session-7", "42", "TR_mic", True)


def test_calls_repeated_after_the_fact_change_nothing(livekit: FakeLiveKit) -> None:
    """Idempotent: the person is gone already, or has no live microphone."""
    livekit.answers["RemoveParticipant"] = [NOT_FOUND]
    livekit.answers["GetParticipant"] = [NOT_FOUND]
    sfu_remove_participant.apply(args=(42, ["session-7"])).get()
    sfu_mute_participant.apply(args=(42, ["session-7"])).get()
    assert [call.method for call in livekit.calls] == ["RemoveParticipant", "GetParticipant"]


def test_an_unavailable_sfu_is_retried_until_it_answers(livekit: FakeLiveKit) -> None:
    livekit.answers["RemoveParticipant"] = [UNAVAILABLE, UNAVAILABLE, (200, b"")]
    result = sfu_remove_participant.apply(args=(42, ["session-7"]))
    assert result.successful()
    assert [call.method for call in livekit.calls] == ["RemoveParticipant"] * 3


def test_an_sfu_that_stays_down_fails_the_task_after_its_attempts(livekit: FakeLiveKit) -> None:
    livekit.answers["RemoveParticipant"] = [UNAVAILABLE] * (MAX_ATTEMPTS + 1)
    result = sfu_remove_participant.apply(args=(42, ["session-7"]))
    assert result.failed() and isinstance(result.result, sfu.SfuUnavailable)
    assert len(livekit.calls) == MAX_ATTEMPTS + 1


def test_a_refusal_is_not_retried(livekit: FakeLiveKit, caplog: pytest.LogCaptureFixture) -> None:
    livekit.answers["RemoveParticipant"] = [(401, b'{"code": "unauthenticated", "msg": "invalid token"}')]
    assert sfu_remove_participant.apply(args=(42, ["session-7"])).successful()
    assert len(livekit.calls) == 1
    assert "unauthenticated" in caplog.text and SECRET not in caplog.text
