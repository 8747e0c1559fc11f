"""ASGI entry point: HTTP through Django, websockets through Channels (server/routing.py)."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from server.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's full passes, which otherwise scan it all and stall every socket for tens of
# milliseconds (bench S1 p99).
gc.freeze()
