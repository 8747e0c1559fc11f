"""Websocket routes. Each app adds its consumers to ``websocket_urlpatterns``."""

from __future__ import annotations

from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []

# Origins are checked before any consumer runs; the ticket is checked by the consumer.
websocket_application = OriginValidator(URLRouter(websocket_urlpatterns), settings.ALLOWED_ORIGINS)
