"""GET /api/v1/sessions/{id}/media/: what a person in a live room needs for its audio and
video, and only while the room's rules let them in (CONTRACT.md, Websockets: Media).

- ICE servers: STUN_URLS, and TURN_URLS with credentials of the TURN REST scheme that a
  coturn server with ``use-auth-secret`` checks on its own: the username is
  ``<expiry unix time>:<user id>``, the password base64(HMAC-SHA1(TURN_SECRET, username)),
  valid TURN_TTL_SECONDS. Neither the secret nor a credential is ever logged.
- Mesh mode: the browsers connect to each other through the room socket's ``rtc.*``
  frames (rooms/signaling.py), for parts of the room of at most MESH_MAX_PARTICIPANTS.
- LiveKit mode: an access token for the person's LiveKit room until the session ends
  (sfu.py).

Only someone in the room now gets any of it: a host of the open session, or a participant
or guardian whom the room's rules let in (rooms/access.py) and who is admitted and
connected (the room's state in Redis). The waiting, the removed, people not on the roster
and anyone once the session ended or was cancelled are refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from server.errors import Conflict, NamedError
from server.redis_client import get_redis
from sessions import sfu
from sessions.models import Session
from sessions.rooms.access import authorize_entry
from sessions.rooms.members import Refusal, RoomMember, RoomRefused
from sessions.rooms.signaling import people_in_my_part
from sessions.rooms.store import RoomKeys


class MediaRefused(NamedError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "Only people in the room get its media settings."
    default_code = "not_admitted"


def turn_credentials(*, user_id: int, now: datetime) -> tuple[str, str, datetime]:
    """A TURN username and password (the shared-secret scheme) and when they expire."""
    expiry = int(now.timestamp()) + settings.TURN_TTL_SECONDS
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode(), datetime.fromtimestamp(expiry, UTC)


def ice_servers(*, user_id: int, now: datetime) -> tuple[list[dict[str, Any]], datetime]:
    """The RTCIceServer list for this person, and when its credentials expire (with none,
    when the client should ask again)."""
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": list(settings.STUN_URLS)})
    username, credential, expires_at = turn_credentials(user_id=user_id, now=now)
    if settings.TURN_URLS:
        servers.append({"urls": list(settings.TURN_URLS), "username": username, "credential": credential})
    return servers, expires_at


def _member_in_room(session: Session, user: User) -> RoomMember:
    """The person as the room sees them, if they are in it now; else the refusal."""
    try:
        member = authorize_entry(session_id=session.pk, user=user)
    except RoomRefused as refused:
        if refused.reason == Refusal.NOT_OPEN:
            raise Conflict(f"This session is {session.status}.", code=f"session_{session.status}") from None
        raise MediaRefused("You may not join this session's room.", code="forbidden") from None
    return member


def media_settings(*, session: Session, user: User) -> dict[str, Any]:
    """The media endpoint's answer (MediaSerializer), or a refusal: 403 ``forbidden`` (not
    allowed in this room) or ``not_admitted`` (waiting, or not connected), 409
    ``session_<status>`` (not open) or ``sfu_required`` (too many people for mesh)."""
    member = _member_in_room(session, user)
    people = people_in_my_part(member)
    if people == 0:
        raise MediaRefused("Join the room and wait to be admitted first.", code="not_admitted")
    now = timezone.now()
    servers, expires_at = ice_servers(user_id=user.pk, now=now)
    answer: dict[str, Any] = {"mode": settings.MEDIA_BACKEND, "ice_servers": servers}
    if settings.MEDIA_BACKEND == "livekit":
        breakout = None if member.is_host else get_redis().hget(RoomKeys(session.pk).breakouts, str(user.pk))
        room = sfu.room_name(session.pk, None if breakout is None else int(breakout))
        token, token_expires_at = sfu.access_token(
            user_id=user.pk, host=member.is_host, room=room, ends_at=session.ends_at
        )
        answer |= {"url": settings.LIVEKIT_URL, "room": room, "token": token}
        expires_at = min(expires_at, token_expires_at) if settings.TURN_URLS else token_expires_at
    elif people > settings.MESH_MAX_PARTICIPANTS:
        raise Conflict(
            f"{people} people are in this part of the room; mesh media takes at most "
            f"{settings.MESH_MAX_PARTICIPANTS}: the room needs the SFU.",
            code="sfu_required",
        )
    return {**answer, "expires_at": expires_at.isoformat()}
