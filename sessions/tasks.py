from __future__ import annotations

from celery import shared_task

from sessions import services
from sessions.rooms import host, presence

# Imported for the worker's task discovery: host.py queues them, and importing this module
# from host.py would be a cycle.
from sessions.sfu_tasks import sfu_mute_participant, sfu_remove_participant  # noqa: F401


@shared_task
def generate_upcoming_sessions() -> int:
    """Extend every schedule over the rolling horizon. Idempotent: occurrences that exist
    (by schedule and local date) are never created again."""
    return services.generate_upcoming_sessions()


@shared_task
def sweep_room_presence() -> int:
    """Close presence and attendance left by dead server processes. Idempotent: each stale
    socket is removed atomically by exactly one sweeper (web processes sweep too)."""
    return presence.sweep_stale_presence()


@shared_task
def end_overdue_rooms() -> int:
    """End live rooms whose session's ends_at has passed. Idempotent: each session is ended
    once, under a row lock."""
    return host.end_overdue_rooms()
