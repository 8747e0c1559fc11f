"""The LiveKit SFU (MEDIA_BACKEND=livekit): access tokens for the media endpoint, and the
server API calls that carry a host's removal or mute to the media (sfu_tasks.py runs them
after the room's change committed).

Rooms are ``session-<id>`` and ``session-<id>-breakout-<n>``. A person's identity there is
their user id, and tokens carry no name or metadata: nothing about a patient reaches the
SFU (CLINICAL.md, privacy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp
from django.conf import settings
from django.utils import timezone
from livekit.api import AccessToken, LiveKitAPI, ServerError, VideoGrants
from livekit.protocol.models import TrackType
from livekit.protocol.room import MuteRoomTrackRequest, RoomParticipantIdentity

log = logging.getLogger("iop.media")

# A token is never shorter than this, so one asked for in a session's last seconds still connects.
MIN_TOKEN_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 10


class SfuUnavailable(Exception):
    """The SFU did not answer, or failed (a 5xx): worth retrying later."""


def room_name(session_id: int, breakout: int | None = None) -> str:
    return f"session-{session_id}" if breakout is None else f"session-{session_id}-breakout-{breakout}"


def access_token(*, user_id: int, host: bool, room: str, ends_at: datetime) -> tuple[str, datetime]:
    """A LiveKit access token for one room until the session ends, and when it expires:
    hosts administer the room (mute, remove); everyone publishes and subscribes."""
    now = timezone.now()
    expires_at = max(ends_at, now + timedelta(seconds=MIN_TOKEN_SECONDS))
    grants = VideoGrants(
        room_join=True, room=room, room_admin=True if host else None, can_publish=True, can_subscribe=True
    )
    token = (
        AccessToken(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
        .with_identity(str(user_id))
        .with_grants(grants)
        .with_ttl(expires_at - now)
        .to_jwt()
    )
    return token, expires_at.replace(microsecond=0)


def remove_participant(*, user_id: int, rooms: list[str]) -> None:
    """Disconnect the person from each room; not being there is done already."""

    async def remove(api: LiveKitAPI, room: str, identity: str) -> None:
        await api.room.remove_participant(RoomParticipantIdentity(room=room, identity=identity))

    _each_room(remove, user_id=user_id, rooms=rooms)


def mute_participant(*, user_id: int, rooms: list[str]) -> None:
    """Mute each microphone track the person publishes in each room (the SFU stops
    forwarding it). Tracks muted already are left alone."""

    async def mute(api: LiveKitAPI, room: str, identity: str) -> None:
        info = await api.room.get_participant(RoomParticipantIdentity(room=room, identity=identity))
        for track in info.tracks:
            if track.type == TrackType.AUDIO and not track.muted:
                await api.room.mute_published_track(
                    MuteRoomTrackRequest(room=room, identity=identity, track_sid=track.sid, muted=True)
                )

    _each_room(mute, user_id=user_id, rooms=rooms)


def _each_room(call: Callable[[LiveKitAPI, str, str], Awaitable[None]], *, user_id: int, rooms: list[str]) -> None:
    async def run() -> None:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        async with LiveKitAPI(
            settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET, timeout=timeout, failover=False
        ) as api:
            for room in rooms:
                try:
                    await call(api, room, str(user_id))
                except ServerError as error:
                    if error.status >= 500:
                        raise SfuUnavailable(f"LiveKit answered {error.status} ({error.code})") from None
                    if error.code != "not_found":  # not in that room: nothing to do there
                        # A refusal (bad key, bad request) does not get better with retries.
                        log.error("LiveKit refused a room call: %s %s", error.status, error.code)
                except (aiohttp.ClientError, TimeoutError) as error:
                    raise SfuUnavailable(f"LiveKit did not answer: {type(error).__name__}") from None

    asyncio.run(run())
