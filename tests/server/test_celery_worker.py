"""A real worker process on the real broker: a task delivered twice has its effect once."""

from __future__ import annotations

import uuid

import pytest

from audit.models import AuditVerification
from audit.services import record
from audit.tasks import verify_audit_chain
from tests.processes import celery_worker


@pytest.mark.django_db(transaction=True)
def test_duplicated_task_delivery_records_its_effect_once() -> None:
    record(actor=None, action="test.event")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue) as worker:
        # The same message twice, as a broker redelivery after a lost ack would look.
        for _ in range(2):
            verify_audit_chain.apply_async(args=("2026-11-24",), queue=queue, task_id="verify-2026-11-24")
        assert worker.wait_for(lambda text: text.count("succeeded") >= 2, timeout=30), worker.text()
    verifications = list(AuditVerification.objects.all())
    assert len(verifications) == 1
    assert verifications[0].run_key == "2026-11-24"
    assert verifications[0].intact is True
    assert verifications[0].entries == 1
    # One delivery created the record, the other saw it and did nothing.
    assert "succeeded" in worker.text() and ": True" in worker.text() and ": False" in worker.text()
