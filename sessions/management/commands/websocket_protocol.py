"""Write the live room's protocol reference from its models (sessions/rooms/protocol.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sessions.rooms import protocol


class Command(BaseCommand):
    help = "Write docs/websocket-protocol.schema.json and the frame reference in docs/websocket-protocol.md."

    def handle(self, *args: Any, **options: Any) -> None:
        protocol.write()
        self.stdout.write(f"wrote {protocol.SCHEMA_PATH} and the frame reference in {protocol.DOC_PATH}")
