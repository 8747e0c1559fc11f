"""Item-9 alerts: acknowledgement with a note, escalation to admins once per step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from measures.alerts import escalate_due_alerts
from measures.models import AlertEscalation, ClinicalAlert
from notifications.models import Notification
from tests.factories import UserFactory, make_program
from tests.measures.support import answer_with_risk

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(sam: User, dana: User) -> ClinicalAlert:
    answer_with_risk(sam, clinician=dana, program=make_program(age_band="adult"))
    return ClinicalAlert.objects.get()


def ack(client: APIClient, alert: ClinicalAlert, body: object) -> object:
    return client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", body, format="json")


def test_acknowledge_needs_a_note_and_happens_once(
    client_for: Callable[[User], APIClient],
    alert: ClinicalAlert,
    dana: User,
    theo: User,
    sam: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    clinician, other, participant = client_for(dana), client_for(theo), client_for(sam)
    before = db_snapshot()
    for body in ({}, {"note": ""}, {"note": "   "}, {"note": 5}, {"note": "x" * 2001}):
        assert ack(clinician, alert, body).status_code == 400  # type: ignore[attr-defined]
    assert ack(other, alert, {"note": "seen"}).status_code == 404  # type: ignore[attr-defined]
    assert ack(participant, alert, {"note": "seen"}).status_code == 403  # type: ignore[attr-defined]
    assert db_snapshot() == before
    response = ack(clinician, alert, {"note": "Called her; safety plan reviewed."})
    assert response.status_code == 200  # type: ignore[attr-defined]
    alert.refresh_from_db()
    assert alert.acknowledged_by == dana and alert.note == "Called her; safety plan reviewed."
    assert ack(clinician, alert, {"note": "again"}).status_code == 409  # type: ignore[attr-defined]
    assert AuditEntry.objects.filter(action="clinical_alert.acknowledge").count() == 1


def test_escalation_once_per_step_until_acknowledged(alert: ClinicalAlert, ada: User, dana: User) -> None:
    second_admin = UserFactory.create(admin=True)
    start = alert.created_at
    with time_machine.travel(start + timedelta(minutes=29)):
        assert escalate_due_alerts() == 0
    with time_machine.travel(start + timedelta(minutes=30, seconds=1)):
        assert escalate_due_alerts() == 1
        assert escalate_due_alerts() == 0  # a second sweep in the same step sends nothing
    for admin in (ada, second_admin):
        assert Notification.objects.filter(recipient=admin, kind="clinical_alert").count() == 1
    with time_machine.travel(start + timedelta(minutes=61)):
        assert escalate_due_alerts() == 1
    assert list(AlertEscalation.objects.values_list("step", flat=True).order_by("step")) == [1, 2]
    assert Notification.objects.filter(recipient=ada, kind="clinical_alert").count() == 2
    assert AuditEntry.objects.filter(action="clinical_alert.escalate").count() == 2
    alert.refresh_from_db()
    alert.acknowledged_at, alert.note = timezone.now(), "Reached her."
    alert.save()
    with time_machine.travel(start + timedelta(minutes=200)):
        assert escalate_due_alerts() == 0
    # The primary clinician got the first one only, never the escalations.
    assert Notification.objects.filter(recipient=dana, kind="clinical_alert").count() == 1


def test_the_alert_list_is_for_staff_who_treat_and_costs_fixed_queries(
    client_for: Callable[[User], APIClient],
    alert: ClinicalAlert,
    dana: User,
    theo: User,
    sam: User,
    django_assert_num_queries: Any,
) -> None:
    client = client_for(dana)
    with django_assert_num_queries(4):  # token, token sweep, count, page
        first = client.get("/api/v1/alerts/", {"open": "true"})
    assert [row["id"] for row in first.json()["results"]] == [alert.pk]
    assert first.json()["results"][0]["instrument"] == "phq9" and "answers" not in first.json()["results"][0]
    for _ in range(3):
        other = UserFactory.create(adult=True)
        answer_with_risk(other, clinician=dana, program=make_program(age_band="adult"))
    with django_assert_num_queries(4):
        assert client.get("/api/v1/alerts/").json()["count"] == 4
    assert client_for(theo).get("/api/v1/alerts/").json()["count"] == 0
    assert client_for(sam).get("/api/v1/alerts/").status_code == 403
