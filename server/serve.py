"""The web process: Daphne on uvloop, with the frame-path tuning of server/daphne_tuning.py.

    python -m server.serve -b 127.0.0.1 -p 8000 --access-log /dev/null server.asgi:application

Takes Daphne's own command-line options. Every way the product starts a web process
(`make run`, docker compose, the Dockerfile, the end-to-end tests, the bench) goes
through here, so they all run the same server.

uvloop: Daphne creates its event loop, and installs Twisted's asyncio reactor on it, when
``daphne.server`` is imported; with uvloop's policy installed first, that loop is
uvloop's (Twisted has accepted any asyncio loop since 21.7). Its loop pass, futures and
callbacks are C instead of Python: bench S1 CPU per ping fell by about 15%.

WS_SERVER_TUNING=0 starts it with none of the frame-path patches (WS_SERVER_TUNING_OFF
leaves out the ones it names).
"""

from __future__ import annotations

import asyncio
import os

import uvloop

APP = "server.asgi:application"


def command(python: str, host: str, port: int, *daphne_options: str, app: str = APP) -> list[str]:
    """The command line of a web process on ``host:port`` (Daphne's access log goes to
    /dev/null: server.middleware.AccessLogMiddleware logs each request by its URL pattern,
    while Daphne's would print query strings, which can carry tickets)."""
    return [python, "-m", "server.serve", "-b", host, "-p", str(port), "--access-log", os.devnull, *daphne_options, app]


def install_tuning() -> list[str]:
    """The frame-path patches WS_SERVER_TUNING and WS_SERVER_TUNING_OFF allow, each only over
    the code it was written against (server/daphne_tuning.py); the one call of install().
    Django is set up first so that a patch left out says so in the log's usual format."""
    import django
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    django.setup()
    from server import daphne_tuning

    return daphne_tuning.install(enabled=settings.WS_SERVER_TUNING, off=settings.WS_SERVER_TUNING_OFF)


def main() -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne.cli import CommandLineInterface  # imports daphne.server: loop and reactor

    install_tuning()
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
