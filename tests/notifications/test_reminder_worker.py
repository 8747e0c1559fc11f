"""Session reminders on real Celery workers whose clocks are moved with time-machine
(tests/support/time_travel_celery.py): the sweep task, sent three times at once, sends the
24 h reminders once; a worker restarted later sends the 1 h ones once; a moved session's
old reminder never fires and its new one does; a cancelled session and a person who
turned reminders off get none. The emails go out through the worker with their .ics."""

from __future__ import annotations

import email
import re
import signal
import uuid
from datetime import datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import cast

import psutil
import psycopg
import pytest
from django.conf import settings
from django.utils import timezone
from icalendar import Calendar

from accounts.models import User
from notifications import services
from notifications.models import Notification, SessionReminder
from notifications.tasks import send_session_reminders
from sessions import services as sessions
from sessions.models import Session
from tests.factories import SessionFactory
from tests.processes import celery_worker
from tests.processes import test_database_url as database_url  # (not collected as a test)

pytestmark = pytest.mark.django_db(transaction=True)

DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
SWEEP_DONE = re.compile(r"send_session_reminders\[[^\]]+\] succeeded in [\d.]+s: (\d+)")
EMAIL_DONE = re.compile(r"send_email_delivery\[[^\]]+\] succeeded in [\d.]+s: 'sent'")
PUBLIC_BASE_URL = "https://care.example.org"


def _emails(folder: Path) -> list[Message]:
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                messages.append(email.message_from_string(chunk.strip()))
    return messages


def _event_of(message: Message) -> tuple[str, int, datetime]:
    (part,) = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(cast(bytes, part.get_payload(decode=True))).walk("VEVENT")
    return str(event["uid"]), int(event.decoded("sequence")), event.decoded("dtstart")


def _run_sweeps(*, clock: datetime, sweeps: int, emails: int, mail_dir: Path) -> list[int]:
    """Start a worker at ``clock``, send it ``sweeps`` sweep tasks at once and wait for them
    and for ``emails`` sent emails; the worker stops after (the next one is a restart)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    with celery_worker(queue, concurrency=2, extra_env=env, clock=clock) as worker:
        for _ in range(sweeps):
            send_session_reminders.apply_async(queue=queue)

        def done(text: str) -> bool:
            return len(SWEEP_DONE.findall(text)) >= sweeps and len(EMAIL_DONE.findall(text)) >= emails

        assert worker.wait_for(done, timeout=60), worker.text()
        sent = [int(count) for count in SWEEP_DONE.findall(worker.text())]
        assert len(EMAIL_DONE.findall(worker.text())) == emails, worker.text()
    return sent


def _reminded(session: Session) -> set[tuple[str, int, datetime]]:
    return set(
        SessionReminder.objects.filter(session=session).values_list("user__username", "offset_minutes", "starts_at")
    )


def test_reminders_on_real_workers_fire_once_follow_moves_and_skip_cancelled_sessions(
    dana: User, theo: User, sam: User, ava: User, tmp_path: Path
) -> None:
    start = (timezone.now() + 2 * DAY).replace(minute=0, second=0, microsecond=0)
    kept = SessionFactory.create(kind="group", starts_at=start, hosts=[dana], roster=[sam, ava])
    moved = SessionFactory.create(kind="individual", starts_at=start + 5 * MINUTE, hosts=[theo], roster=[sam])
    cancelled = SessionFactory.create(kind="individual", starts_at=start + HOUR, hosts=[dana], roster=[sam])
    sessions.cancel_session(by=dana, session=cancelled)
    services.set_preferences(user=ava, reminder_offsets=[])
    mail_dir = tmp_path / "mail"

    # 24 h before (6 minutes late, within the limit): three sweeps at once, one reminder each.
    sent = _run_sweeps(clock=start - DAY + 6 * MINUTE, sweeps=3, emails=4, mail_dir=mail_dir)
    assert len(sent) == 3 and sum(sent) == 4, "concurrent sweeps share the work, each reminder once"
    assert _reminded(kept) == {("dana", 1440, start), ("sam", 1440, start)}
    assert _reminded(moved) == {("theo", 1440, start + 5 * MINUTE), ("sam", 1440, start + 5 * MINUTE)}

    sessions.move_session(by=theo, session=moved, starts_at=start + 3 * HOUR, ends_at=start + 4 * HOUR)

    # A restarted worker 50 minutes before: the kept session's 1 h reminders; the moved
    # session's old 1 h reminder (due 55 minutes before) never fires.
    sent = _run_sweeps(clock=start - 50 * MINUTE, sweeps=2, emails=2, mail_dir=mail_dir)
    assert len(sent) == 2 and sum(sent) == 2
    assert _reminded(kept) == {(name, offset, start) for name in ("dana", "sam") for offset in (1440, 60)}
    assert len(_reminded(moved)) == 2

    # Its new start's 1 h reminder does.
    sent = _run_sweeps(clock=start + 2 * HOUR + MINUTE, sweeps=2, emails=2, mail_dir=mail_dir)
    assert len(sent) == 2 and sum(sent) == 2
    new_start = start + 3 * HOUR
    assert {(name, offset, at) for name, offset, at in _reminded(moved) if at == new_start} == {
        ("theo", 60, new_start),
        ("sam", 60, new_start),
    }

    assert not SessionReminder.objects.filter(session=cancelled).exists()
    assert not SessionReminder.objects.filter(user=ava).exists()
    assert Notification.objects.filter(kind="session_reminder").count() == 8
    messages = _emails(mail_dir)
    assert len(messages) == 8, "every reminder emailed once"
    assert {message["To"] for message in messages} == {dana.email, theo.email, sam.email}
    moved.refresh_from_db()
    for message in messages:
        body = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_payload()
        uid, sequence, dtstart = _event_of(message)
        session = kept if uid == f"session-{kept.pk}@{settings.CALENDAR_UID_DOMAIN}" else moved
        assert f"{PUBLIC_BASE_URL}/sessions/{session.pk}/" in body
        if session == moved and dtstart == new_start:
            assert sequence > 0, "the moved event's new revision"
        else:
            assert sequence == 0
    assert sum(_event_of(message)[2] == new_start for message in messages) == 2


def _waiting_on_a_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    ).fetchone()
    return bool(row and row[0])


def test_a_worker_killed_mid_sweep_leaves_the_rest_to_the_redelivered_sweep(
    dana: User, theo: User, sam: User, ava: User, tmp_path: Path
) -> None:
    start = (timezone.now() + 2 * DAY).replace(minute=0, second=0, microsecond=0)
    first = SessionFactory.create(kind="individual", starts_at=start, hosts=[dana], roster=[sam])
    second = SessionFactory.create(kind="individual", starts_at=start + MINUTE, hosts=[theo], roster=[ava])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(tmp_path)}
    # Another transaction holds the second session's row: the sweep sends the first
    # session's reminders, then waits on the second's lock, and is killed there.
    blocker = psycopg.connect(database_url())
    watcher = psycopg.connect(database_url(), autocommit=True)
    try:
        blocker.execute("SELECT id FROM therapy_sessions_session WHERE id = %s FOR UPDATE", [second.pk])
        with celery_worker(queue, concurrency=1, extra_env=env, clock=start - DAY + 2 * MINUTE) as worker:
            send_session_reminders.apply_async(queue=queue)
            assert worker.wait_for(lambda text: _waiting_on_a_lock(watcher), timeout=30), worker.text()
            assert _reminded(first) == {("dana", 1440, start), ("sam", 1440, start)}
            (child,) = psutil.Process(worker.process.pid).children()
            child.send_signal(signal.SIGKILL)
            assert worker.wait_for(lambda text: "WorkerLostError" in text or "SIGKILL" in text, timeout=30)
            blocker.rollback()
            # The broker hands the sweep to a new pool process; it sends the rest, once.
            assert worker.wait_for(lambda text: SWEEP_DONE.search(text) is not None, timeout=30), worker.text()
            assert [int(count) for count in SWEEP_DONE.findall(worker.text())] == [2]
            assert worker.wait_for(lambda text: len(EMAIL_DONE.findall(text)) >= 4, timeout=30), worker.text()
    finally:
        blocker.close()
        watcher.close()
    assert _reminded(second) == {("theo", 1440, start + MINUTE), ("ava", 1440, start + MINUTE)}
    assert Notification.objects.filter(kind="session_reminder").count() == 4
    assert len(_emails(tmp_path)) == 4
