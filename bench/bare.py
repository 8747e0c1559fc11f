"""The bare baseline: a plain `websockets` server speaking the room protocol, one process.

    python -m bench.bare --port 9000

- ``/ws/sessions/<room>/?user=<id>`` joins in-memory room ``<room>``; the first frame is
  ``{"type": "room.state", "seq": N, ...}`` as the project sends.
- ``{"type": "ping"}`` is answered with ``{"type": "pong"}`` to that socket, after JSON
  parsing, as the project does.
- ``{"type": "chat.send", "text", "client_id"}`` takes the room's next seq and the same
  ``chat.message`` frame shape as the project goes to every member, the sender included.

No authentication, no database, no channel layer: the floor any websocket server in Python
stands on, to measure the project's overhead against.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

PONG = orjson.dumps({"type": "pong"}).decode()


class Room:
    __slots__ = ("members", "seq")

    def __init__(self) -> None:
        self.members: set[ServerConnection] = set()
        self.seq = 0


rooms: dict[str, Room] = {}
message_ids = itertools.count(1)


def _error(code: str, message: str) -> str:
    return orjson.dumps({"type": "error", "code": code, "message": message}).decode()


async def handler(ws: ServerConnection) -> None:
    assert ws.request is not None
    parts = urlsplit(ws.request.path)
    segments = [segment for segment in parts.path.split("/") if segment]
    room_key = segments[2] if len(segments) >= 3 and segments[:2] == ["ws", "sessions"] else "lobby"
    user_id = int(parse_qs(parts.query).get("user", ["0"])[0] or 0)
    room = rooms.setdefault(room_key, Room())
    room.members.add(ws)
    try:
        await ws.send(orjson.dumps({"type": "room.state", "seq": room.seq, "members": len(room.members)}).decode())
        async for raw in ws:
            try:
                frame: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await ws.send(_error("malformed", "The frame is not valid JSON."))
                continue
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "ping":
                await ws.send(PONG)
            elif kind == "chat.send":
                room.seq += 1
                out = {
                    "type": "chat.message",
                    "id": next(message_ids),
                    "seq": room.seq,
                    "user": {"id": user_id},
                    "text": str(frame.get("text", ""))[:4000],
                    "sent_at": datetime.now(UTC).isoformat(),
                    "client_id": str(frame.get("client_id", ""))[:64],
                }
                broadcast(room.members, orjson.dumps(out).decode())
            else:
                await ws.send(_error("unknown_type", "Unknown frame type."))
    except ConnectionClosed:
        pass
    finally:
        room.members.discard(ws)
        if not room.members:
            rooms.pop(room_key, None)


async def serve_forever(host: str, port: int) -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with serve(handler, host, port, compression=None, ping_interval=None, max_size=64 * 1024, backlog=1024):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
