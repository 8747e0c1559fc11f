"""The Celery app. Reliability settings live in server/settings.py (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

from server.envtools import env_str

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

app = Celery("iop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task outcomes for /metrics, the request id into tasks, the worker's heartbeat for /readyz.
app.conf.imports = ("server.task_signals",)

if env_str("LOG_FORMAT", "plain") == "json":
    # JSON lines: Django's LOGGING (settings) formats the worker's and beat's logs too, task
    # lines included, instead of Celery's own plain format. (Read from the environment:
    # settings import this module, so they cannot be asked here.)
    @setup_logging.connect
    def _keep_django_logging(**_: Any) -> None:
        """Connected, so Celery leaves the logging Django configured alone."""
