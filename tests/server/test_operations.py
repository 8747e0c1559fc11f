"""Operations: JSON log lines carrying the request id into the tasks a request queues, the
Celery configuration (time limits, the email queue, crontab for daily jobs), and /readyz
naming a worker that stopped beating."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from bookings.tasks import delete_expired_idempotency_keys
from server.celery import app
from server.log_context import REQUEST_ID_HEADER, RequestContextFilter
from server.middleware import RequestContext, bind_request_context, reset_request_context
from server.redis_client import get_redis
from server.worker_heartbeat import HEARTBEATS_KEY, STALE_SECONDS, is_beating
from tests.processes import BIN_DIR, celery_worker, child_env, running


def _json_line(message: str) -> dict[str, Any]:
    logging_config: dict[str, Any] = django_settings.LOGGING
    config = dict(logging_config["formatters"]["json"])
    config.pop("()")
    formatter = JsonFormatter(**config)
    record = logging.LogRecord("iop.test", logging.INFO, __file__, 1, message, None, None)
    RequestContextFilter().filter(record)
    return json.loads(formatter.format(record))


def test_json_lines_parse_and_carry_the_bound_request_id() -> None:
    token = bind_request_context(RequestContext(request_id="req-123", ip=None))
    try:
        line = _json_line("hello")
    finally:
        reset_request_context(token)
    assert line["message"] == "hello"
    assert line["level"] == "INFO"
    assert line["logger"] == "iop.test"
    assert line["request_id"] == "req-123"
    assert line["task_id"] == "-"
    assert _json_line("outside")["request_id"] == "-"


@pytest.mark.django_db
def test_a_request_answers_with_its_id_and_keeps_a_well_formed_one_it_was_given() -> None:
    generated = Client().get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="abc-42")["X-Request-ID"] == "abc-42"
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_a_task_queued_inside_a_request_carries_its_id_in_the_message() -> None:
    sent: list[dict[str, Any]] = []

    def capture(headers: dict[str, Any] | None = None, **_: Any) -> None:
        sent.append(dict(headers or {}))

    from celery.signals import before_task_publish

    before_task_publish.connect(capture, weak=False)
    token = bind_request_context(RequestContext(request_id="req-queued", ip=None))
    try:
        delete_expired_idempotency_keys.apply_async(queue=f"nobody-{uuid.uuid4().hex}")
    finally:
        reset_request_context(token)
        before_task_publish.disconnect(capture)
    assert sent[-1][REQUEST_ID_HEADER] == "req-queued"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_task_log_lines_of_a_json_worker_carry_the_request_id() -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    with celery_worker(queue, extra_env={"LOG_FORMAT": "json"}) as worker:
        token = bind_request_context(RequestContext(request_id=request_id, ip=None))
        try:
            result = delete_expired_idempotency_keys.apply_async(queue=queue)
        finally:
            reset_request_context(token)
        assert worker.wait_for(lambda text: "succeeded" in text, timeout=30), worker.text()
    lines = [json.loads(line) for line in worker.text().splitlines() if line.startswith("{")]
    assert lines, worker.text()
    task_lines = [line for line in lines if line.get("task_id") == result.id]
    assert task_lines, worker.text()
    assert all(line["request_id"] == request_id for line in task_lines)
    assert any("succeeded" in line["message"] for line in task_lines)
    # Lines outside the task (the worker starting) carry no request id.
    assert any(line["request_id"] == "-" for line in lines)


def _registered_tasks() -> dict[str, Any]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_registered_task_has_a_soft_and_a_hard_time_limit() -> None:
    tasks = _registered_tasks()
    assert len(tasks) > 10
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_emails_have_a_queue_of_their_own_and_nothing_else_goes_there() -> None:
    email_queue = django_settings.CELERY_EMAIL_QUEUE
    for name in _registered_tasks():
        queue = app.amqp.router.route({}, name)["queue"].name
        expected = email_queue if name == "notifications.tasks.send_email_delivery" else app.conf.task_default_queue
        assert queue == expected, name


def test_daily_jobs_run_on_a_crontab() -> None:
    for name, entry in django_settings.CELERY_BEAT_SCHEDULE.items():
        schedule: Any = entry["schedule"]
        if not isinstance(schedule, crontab):
            assert float(schedule) < 24 * 3600, f"{name} runs daily or less often: give it a crontab"


@pytest.mark.django_db
def test_readyz_names_a_worker_that_stopped_beating_without_failing() -> None:
    client = get_redis()
    client.hset(HEARTBEATS_KEY, "celery@alive", str(time.time()))
    client.hset(HEARTBEATS_KEY, "celery@stuck", str(time.time() - STALE_SECONDS - 5))
    client.hset(HEARTBEATS_KEY, "celery@gone-long-ago", str(time.time() - 3 * 24 * 3600))
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["stale_workers"] == ["celery@stuck"]
    assert body["failing"] == []
    # Gone for days: forgotten, not reported forever.
    assert client.hget(HEARTBEATS_KEY, "celery@gone-long-ago") is None


def _worker_names() -> list[str]:
    return [name.decode() if isinstance(name, bytes) else name for name in get_redis().hkeys(HEARTBEATS_KEY)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_worker_beats_and_a_stopped_one_leaves_no_entry() -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"

    def beating() -> bool:
        return any(name.startswith(f"{queue}@") for name in _worker_names())

    with celery_worker(queue) as worker:
        # Its first beat follows "ready." from a thread of its own.
        assert worker.wait_for(lambda _: beating(), timeout=10), worker.text()
        assert Client().get("/readyz").json()["stale_workers"] == []
    names = _worker_names()
    assert not any(name.startswith(f"{queue}@") for name in names), names


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_beats_too_and_its_health_check_follows_it(tmp_path: Path) -> None:
    name = f"beat@{socket.gethostname()}"
    command = [str(BIN_DIR / "celery"), "-A", "server", "beat", "--schedule", str(tmp_path / "schedule")]
    with running(command, child_env()) as beat:
        assert beat.wait_for(lambda _: name in _worker_names(), timeout=30), beat.text()
        assert is_beating(name)
    assert name not in _worker_names()  # a beat that stops leaves no entry
    assert not is_beating(name)
