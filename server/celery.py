"""The Celery app. Reliability settings live in server/settings.py (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

app = Celery("iop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
