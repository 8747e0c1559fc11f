from __future__ import annotations

from celery import shared_task

from programs import forecasts


@shared_task
def send_hours_forecasts() -> int:
    """Beat: tell the clinicians of participants whose week is at risk, once per participant
    and week (a notification dedupe key), so running often or twice is harmless."""
    return forecasts.send_hours_forecasts()


@shared_task
def notify_absence_streaks(session_id: int) -> int:
    """After a session's attendance is written: report new absence streaks, once each."""
    return forecasts.notify_absence_streaks(session_id=session_id)
