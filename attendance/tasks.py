from __future__ import annotations

from celery import shared_task

from attendance import services
from programs.tasks import notify_absence_streaks


@shared_task
def record_session_attendance(session_id: int) -> int:
    """Write the attendance records of one session that ended. Idempotent: records are
    upserted on (session, user) and overrides are never touched, so a redelivered or
    duplicated task leaves the same rows. Then absence streaks are looked for (their own
    task, idempotent too)."""
    written = services.record_session_attendance(session_id=session_id)
    notify_absence_streaks.delay(session_id)
    return written


@shared_task
def record_missed_attendance() -> int:
    """Beat: attendance for sessions that are over without it (nobody ended the room, or
    the end's task was lost). Idempotent, for the same reason."""
    return services.record_missed_attendance()
