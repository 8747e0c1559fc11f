"""Websocket route of the live rooms."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from sessions.rooms.consumer import SessionRoomConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/sessions/(?P<session_id>[0-9]{1,18})/$", SessionRoomConsumer.as_asgi()),
]
