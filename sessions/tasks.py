from __future__ import annotations

from celery import shared_task

from sessions import room_services, services


@shared_task
def generate_upcoming_sessions() -> int:
    """Extend every schedule over the rolling horizon. Idempotent: occurrences that exist
    (by schedule and local date) are never created again."""
    return services.generate_upcoming_sessions()


@shared_task
def sweep_room_presence() -> int:
    """Close presence and attendance left by dead server processes. Idempotent: each stale
    socket is removed atomically by exactly one sweeper (web processes sweep too)."""
    return room_services.sweep_stale_presence()
