"""Celery tasks that carry a host's removal or mute to the LiveKit SFU (sfu.py), queued
after the room's change committed so the socket never waits on the SFU. Idempotent: a
person already gone or muted there is left as they are; an SFU that is down is retried."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from sessions import sfu

MAX_ATTEMPTS = 6


def _retry_later(task: Any, error: Exception) -> Exception:
    # 10 s, 20 s, 40 s, ... : a restarting SFU is back well within the attempts.
    return task.retry(exc=error, countdown=min(10 * 2**task.request.retries, 300))


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def sfu_remove_participant(self: Any, user_id: int, rooms: list[str]) -> None:
    try:
        sfu.remove_participant(user_id=user_id, rooms=rooms)
    except sfu.SfuUnavailable as error:
        raise _retry_later(self, error) from error


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def sfu_mute_participant(self: Any, user_id: int, rooms: list[str]) -> None:
    try:
        sfu.mute_participant(user_id=user_id, rooms=rooms)
    except sfu.SfuUnavailable as error:
        raise _retry_later(self, error) from error
