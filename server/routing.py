"""Websocket routes. Each app adds its consumers to ``websocket_urlpatterns``."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import URLPattern, URLResolver, re_path

from notifications.routing import websocket_urlpatterns as notification_routes
from sessions.routing import websocket_urlpatterns as room_routes

websocket_urlpatterns: list[URLPattern | URLResolver] = [*notification_routes, *room_routes]


class UnknownRouteConsumer(AsyncWebsocketConsumer):
    """A websocket to a path we do not serve closes with 4404 instead of a server error."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=4404)


# Origins are checked before any consumer runs; tickets are checked by the consumers.
websocket_application = OriginValidator(
    URLRouter([*websocket_urlpatterns, re_path(r"", UnknownRouteConsumer.as_asgi())]),
    settings.ALLOWED_ORIGINS,
)
