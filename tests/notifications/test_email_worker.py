"""Real worker processes on the real broker: email goes out exactly once when the task is
delivered twice, and once when the worker dies in the middle of sending."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import psutil
import pytest

from accounts.models import User
from notifications import services
from notifications.models import Delivery, DeliveryStatus
from notifications.tasks import send_email_delivery
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _delivery(user: User) -> Delivery:
    user.email = f"{user.username}@example.invalid"
    user.save(update_fields=["email"])
    notification = services.notify(recipient=user, kind="session_opening", data={"time": "17:00", "link": "/s/1"})
    assert notification is not None
    return Delivery.objects.get(notification=notification)


def _emails(folder: Path) -> list[Path]:
    return list(folder.glob("*.log"))


def test_duplicated_task_sends_the_email_once(sam: User, tmp_path: Path) -> None:
    delivery = _delivery(sam)
    mail_dir = tmp_path / "mail"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(mail_dir)}
    with celery_worker(queue, concurrency=2, extra_env=env) as worker:
        for _ in range(2):
            send_email_delivery.apply_async(args=(delivery.pk,), queue=queue)
        assert worker.wait_for(lambda text: text.count("succeeded") >= 2, timeout=30), worker.text()
    assert len(_emails(mail_dir)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1


def test_worker_killed_mid_send_sends_once_after_redelivery(sam: User, tmp_path: Path) -> None:
    delivery = _delivery(sam)
    mail_dir = tmp_path / "mail"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        "EMAIL_BACKEND": "tests.support.slow_email.SlowFirstSendBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "SLOW_EMAIL_SECONDS": "30",
    }
    marker = tmp_path / "first-send-started"
    with celery_worker(queue, concurrency=1, extra_env=env) as worker:
        send_email_delivery.apply_async(args=(delivery.pk,), queue=queue)
        assert worker.wait_for(lambda text: marker.exists(), timeout=30), worker.text()
        # The pool process is in the middle of sending: kill it without warning.
        child_pid = int(marker.read_text())
        psutil.Process(child_pid).send_signal(signal.SIGKILL)
        assert worker.wait_for(lambda text: "succeeded" in text, timeout=40), worker.text()
    assert len(_emails(mail_dir)) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
