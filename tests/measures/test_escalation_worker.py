"""Escalation of an unacknowledged item-9 alert on real Celery workers whose clocks are moved
with time-machine (tests/support/time_travel_celery.py): three sweeps sent at once past the
timeout escalate once; a worker past the second step escalates once more; none after the
acknowledgement."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from measures.models import AlertEscalation, ClinicalAlert
from measures.tasks import escalate_clinical_alerts
from notifications.models import Notification
from tests.factories import UserFactory, make_program
from tests.measures.support import answer_with_risk, seed_instruments
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP_DONE = re.compile(r"escalate_clinical_alerts\[[^\]]+\] succeeded in [\d.]+s: (\d+)")


def run_sweeps(*, clock: datetime, sweeps: int) -> list[int]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    with celery_worker(queue, concurrency=2, extra_env=env, clock=clock) as worker:
        for _ in range(sweeps):
            escalate_clinical_alerts.apply_async(queue=queue)
        assert worker.wait_for(lambda text: len(SWEEP_DONE.findall(text)) >= sweeps, timeout=60), worker.text()
        return sorted(int(count) for count in SWEEP_DONE.findall(worker.text()))


def test_escalation_on_a_real_worker_once_per_step() -> None:
    seed_instruments()
    clinician = UserFactory.create()
    admins = UserFactory.create_batch(2, admin=True)
    participant = UserFactory.create(adult=True)
    answer_with_risk(participant, clinician=clinician, program=make_program(age_band="adult"))
    alert = ClinicalAlert.objects.get()

    def admin_alerts(admin: User) -> int:
        return Notification.objects.filter(recipient=admin, kind="clinical_alert").count()

    assert run_sweeps(clock=alert.created_at + timedelta(minutes=20), sweeps=1) == [0]
    assert run_sweeps(clock=alert.created_at + timedelta(minutes=31), sweeps=3) == [0, 0, 1]
    assert [admin_alerts(admin) for admin in admins] == [1, 1]
    assert run_sweeps(clock=alert.created_at + timedelta(minutes=62), sweeps=2) == [0, 1]
    assert list(AlertEscalation.objects.order_by("step").values_list("step", flat=True)) == [1, 2]
    assert [admin_alerts(admin) for admin in admins] == [2, 2]
    ClinicalAlert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now(), note="Reached them.")
    assert run_sweeps(clock=alert.created_at + timedelta(minutes=125), sweeps=1) == [0]
    assert AlertEscalation.objects.count() == 2
