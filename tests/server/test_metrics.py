"""/metrics: off without METRICS_TOKEN, refused without the right token, and counting
requests by URL pattern (never the path), websocket frames and sockets, task outcomes and
email deliveries."""

from __future__ import annotations

import re
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from knox.models import AuthToken

from accounts import services as account_services
from accounts.models import User
from bookings.tasks import delete_expired_idempotency_keys
from server.asgi import application
from server.live_counters import LIVE
from server.task_signals import count_task_outcome
from tests.factories import UserFactory
from tests.processes import celery_worker

TOKEN = "metrics-token-for-tests-0123456789"
ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


def _scrape() -> str:
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def _value(text: str, name: str, **labels: str) -> float:
    """A sample's value (0 when absent); labels must all match."""
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(2))
    return 0.0


@pytest.mark.django_db
def test_without_a_token_configured_the_endpoint_does_not_exist(settings) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_a_missing_or_wrong_token_is_refused(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert b"iop_" not in refused.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # no scheme


@pytest.mark.django_db
def test_requests_are_counted_by_pattern_never_by_path(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    user = UserFactory.create(adult=True)
    _, token = AuthToken.objects.create(user=user)
    before = _value(_scrape(), "iop_http_requests_total", method="GET", route="/api/v1/me/", status="200")
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    secret = uuid.uuid4().hex
    Client().get(f"/calendar/{secret}.ics")
    Client().generic("BREW", "/api/v1/me/")
    text = _scrape()
    assert _value(text, "iop_http_requests_total", method="GET", route="/api/v1/me/", status="200") == before + 1
    assert _value(text, "iop_http_requests_total", method="GET", route="/calendar/<str:token>.ics", status="404") >= 1
    assert _value(text, "iop_http_requests_total", method="other", route="/api/v1/me/") >= 1
    assert secret not in text
    assert token not in text
    assert 'method="BREW"' not in text


@pytest.mark.django_db
def test_email_deliveries_by_state_and_task_outcomes_are_listed(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    count_task_outcome("bookings.tasks.delete_expired_idempotency_keys", "succeeded")
    text = _scrape()
    task = "bookings.tasks.delete_expired_idempotency_keys"
    assert _value(text, "iop_celery_tasks_total", task=task, outcome="succeeded") == 1
    for state in ("pending", "sent", "failed", "suppressed"):
        assert f'iop_email_deliveries{{state="{state}"}}' in text


@database_sync_to_async
def _user_and_ticket() -> tuple[User, str]:
    user = UserFactory.create(adult=True)
    return user, account_services.issue_realtime_ticket(user=user).ticket


@database_sync_to_async
def _scrape_async() -> str:
    return _scrape()


@pytest.mark.django_db(transaction=True)
async def test_websocket_frames_and_open_sockets_are_counted(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    _, ticket = await _user_and_ticket()
    sockets, frames_in, frames_out = LIVE.open_sockets, LIVE.frames_in, LIVE.frames_out
    communicator = WebsocketCommunicator(application, f"/ws/notifications/?ticket={ticket}", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    text = await _scrape_async()
    assert _value(text, "iop_ws_open_sockets") == sockets + 1
    assert _value(text, "iop_ws_frames_total", direction="in") == frames_in + 1
    assert _value(text, "iop_ws_frames_total", direction="out") >= frames_out + 1
    await communicator.disconnect()
    assert _value(await _scrape_async(), "iop_ws_open_sockets") == sockets


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_a_real_worker_is_counted(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    task = "bookings.tasks.delete_expired_idempotency_keys"
    before = _value(_scrape(), "iop_celery_tasks_total", task=task, outcome="succeeded")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue) as worker:
        delete_expired_idempotency_keys.apply_async(queue=queue)
        assert worker.wait_for(lambda text: "succeeded" in text, timeout=30), worker.text()
        # The outcome is counted right after the task's own success line.
        assert worker.wait_for(
            lambda _: _value(_scrape(), "iop_celery_tasks_total", task=task, outcome="succeeded") == before + 1,
            timeout=10,
        )
