"""GET /participants/{id}/assessments/ and /programs/{id}/measures/: who sees what (the
participant, their clinicians and admins the answers; a guardian totals only, with the
``measures`` scope), trends, audited staff reads, constant queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ConsentScope, User
from audit.models import AuditEntry
from measures import services
from measures.models import Assessment
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory, make_enrollment, make_program
from tests.measures.support import schedule

pytestmark = pytest.mark.django_db


def answer_weekly(participant: User, code: str, vectors: list[list[int]]) -> None:
    start = timezone.now()
    for week, answers in enumerate(vectors):
        with time_machine.travel(start + timedelta(days=7 * week, hours=1)):
            services.submit_assessment(participant=participant, instrument_code=code, answers=answers)


@pytest.fixture
def teen(dana: User, ava: User) -> User:
    program = make_program(age_band="adolescent")
    schedule(program, "phqa")
    make_enrollment(participant=ava, program=program, clinician=dana, start_date=timezone.localdate())
    # 16 (moderately severe) -> 12 -> 7 (a 56% drop: response) -> 4 (remission)
    answer_weekly(ava, "phqa", [[2] * 8 + [0], [2] * 6 + [0, 0, 0], [1] * 7 + [0, 0], [1] * 4 + [0] * 5])
    return ava


def test_history_trend_response_and_remission(client_for: Callable[[User], APIClient], teen: User) -> None:
    response = client_for(teen).get(f"/api/v1/participants/{teen.pk}/assessments/")
    assert response.status_code == 200
    (phqa,) = response.json()["instruments"]
    assert [(a["score"], a["severity"], a["change_from_first"]) for a in phqa["assessments"]] == [
        (16, "moderately_severe", 0), (12, "moderate", -4), (7, "mild", -9), (4, "minimal", -12),
    ]  # fmt: skip
    assert phqa["assessments"][0]["answers"] == [2] * 8 + [0]
    assert phqa["trend"] == {
        "first": 16, "latest": 4, "change": -12, "change_percent": -75.0, "response": True, "remission": True,
    }  # fmt: skip


def test_clinicians_and_admins_read_and_each_read_is_audited(
    client_for: Callable[[User], APIClient], teen: User, dana: User, ada: User
) -> None:
    for staff in (dana, ada):
        response = client_for(staff).get(f"/api/v1/participants/{teen.pk}/assessments/")
        assert response.status_code == 200 and "answers" in response.json()["instruments"][0]["assessments"][0]
    reads = AuditEntry.objects.filter(action="assessment.read", target_id=str(teen.pk))
    assert sorted(reads.values_list("actor_id", flat=True)) == sorted([dana.pk, ada.pk])
    assert all(entry.data == {"assessments": 4} for entry in reads)


def test_a_guardian_sees_totals_only_with_the_measures_scope(
    client_for: Callable[[User], APIClient], teen: User, ada: User
) -> None:
    guardian = UserFactory.create(guardian=True)
    link = GuardianLinkFactory.create(guardian=guardian, adolescent=teen, created_by=ada)
    consent = ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE, ConsentScope.HOURS])
    url = f"/api/v1/participants/{teen.pk}/assessments/"
    client = client_for(guardian)
    assert client.get(url).status_code == 403  # linked, but the consent does not name measures
    consent.revoked_at = timezone.now()
    consent.save(update_fields=["revoked_at"])
    ConsentFactory.create(link=link, scopes=[ConsentScope.MEASURES])
    response = client.get(url)
    assert response.status_code == 200
    for row in response.json()["instruments"][0]["assessments"]:
        assert set(row) == {"id", "instrument", "score", "severity", "change_from_first", "created_at"}
    assert "answers" not in str(response.json()) and "risk" not in str(response.json())


def test_others_get_a_404(client_for: Callable[[User], APIClient], teen: User, sam: User, theo: User) -> None:
    unlinked = UserFactory.create(guardian=True)
    for user in (sam, theo, unlinked):  # another participant, a clinician not treating her
        assert client_for(user).get(f"/api/v1/participants/{teen.pk}/assessments/").status_code == 404
    assert client_for(theo).get("/api/v1/participants/999999/assessments/").status_code == 404
    assert not AuditEntry.objects.filter(action="assessment.read").exists()


def test_a_note_by_the_clinician_only_and_scores_never_change(
    client_for: Callable[[User], APIClient], teen: User, dana: User, theo: User
) -> None:
    assessment = Assessment.objects.filter(participant=teen).first()
    assert assessment is not None
    url = f"/api/v1/assessments/{assessment.pk}/note/"
    assert client_for(teen).post(url, {"note": "mine"}, format="json").status_code == 403
    assert client_for(theo).post(url, {"note": "x"}, format="json").status_code == 403
    assert client_for(dana).post(url, {"note": ""}, format="json").status_code == 400
    response = client_for(dana).post(url, {"note": "Discussed sleep.", "score": 0}, format="json")
    assert response.status_code == 200 and response.json()["score"] == 16
    assessment.refresh_from_db()
    assert (assessment.note, assessment.note_by, assessment.score) == ("Discussed sleep.", dana, 16)


def test_program_view_latest_and_trend_in_constant_queries(
    client_for: Callable[[User], APIClient], dana: User, theo: User
) -> None:
    program = make_program(age_band="adult")
    schedule(program, "phq9", "gad7")
    client = client_for(dana)

    def add(count: int) -> None:
        for _ in range(count):
            person = UserFactory.create(adult=True)
            make_enrollment(participant=person, program=program, clinician=dana, start_date=timezone.localdate())
            answer_weekly(person, "phq9", [[2] * 8 + [0], [1] * 8 + [0]])

    def read() -> tuple[int, list[dict[str, Any]]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/programs/{program.pk}/measures/")
        assert response.status_code == 200
        return len(queries), response.json()

    add(2)
    few, rows = read()
    add(5)
    many, rows = read()
    assert few == many and len(rows) == 7
    assert {(r["latest_score"], r["trend"]["first"], r["trend"]["response"], r["open_alert"]) for r in rows} == {
        (8, 16, True, False)
    }
    assert client_for(theo).get(f"/api/v1/programs/{program.pk}/measures/").status_code == 404
