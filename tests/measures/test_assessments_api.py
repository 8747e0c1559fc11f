"""POST /assessments/ and GET /instruments/: scored on the server, due only, one's own;
bad input changes nothing."""

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
from measures import services
from measures.models import Assessment, ClinicalAlert, DueNotice
from notifications.models import Notification
from tests.factories import UserFactory, make_enrollment, make_program
from tests.measures.support import schedule

pytestmark = pytest.mark.django_db

PHQ_MILD = [1, 1, 1, 1, 1, 1, 0, 0, 0]  # 6: mild, item 9 at 0
GAD_MODERATE = [2, 2, 2, 2, 2, 0, 0]  # 10


@pytest.fixture
def adult(dana: User) -> User:
    participant = UserFactory.create(adult=True)
    program = make_program(age_band="adult")
    schedule(program, "phq9", "gad7")
    make_enrollment(participant=participant, program=program, clinician=dana)
    return participant


@pytest.fixture
def teen(dana: User) -> User:
    participant = UserFactory.create(adolescent=True)
    program = make_program(age_band="adolescent")
    schedule(program, "phqa")
    make_enrollment(participant=participant, program=program, clinician=dana)
    return participant


def post(client: APIClient, body: Any) -> Any:
    return client.post("/api/v1/assessments/", body, format="json")


def test_instruments_list_items_and_scale(client_for: Callable[[User], APIClient], sam: User) -> None:
    response = client_for(sam).get("/api/v1/instruments/")
    assert response.status_code == 200
    by_code = {row["code"]: row for row in response.json()}
    assert set(by_code) >= {"phq9", "phqa", "gad7"}
    assert len(by_code["phq9"]["items"]) == 9 and len(by_code["gad7"]["items"]) == 7
    assert [step["value"] for step in by_code["phq9"]["answer_scale"]] == [0, 1, 2, 3]
    assert by_code["phqa"]["age_band"] == "adolescent" and by_code["phq9"]["risk_item"] == 9


def test_a_participant_answers_and_the_server_scores(client_for: Callable[[User], APIClient], adult: User) -> None:
    response = post(client_for(adult), {"instrument": "phq9", "answers": PHQ_MILD})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("instrument", "score", "severity", "risk")} == {
        "instrument": "phq9", "score": 6, "severity": "mild", "risk": False,
    }  # fmt: skip
    assert "crisis_resources" not in body
    assessment = Assessment.objects.get()
    assert assessment.answers == PHQ_MILD and assessment.due_on == adult.enrollments.get().start_date
    assert AuditEntry.objects.filter(action="assessment.submit", target_id=str(assessment.pk)).count() == 1
    # Score fields take no input: a submitted score is ignored, never stored.
    response = post(client_for(adult), {"instrument": "gad7", "answers": GAD_MODERATE, "score": 0})
    assert response.status_code == 201 and response.json()["score"] == 10


def test_an_adolescent_answers_the_phq_a(client_for: Callable[[User], APIClient], teen: User) -> None:
    response = post(client_for(teen), {"instrument": "phqa", "answers": [3] * 8 + [0]})
    assert response.status_code == 201
    assert (response.json()["score"], response.json()["severity"]) == (24, "severe")


def test_a_risk_answer_alerts_and_shows_crisis_resources(
    client_for: Callable[[User], APIClient], adult: User, dana: User
) -> None:
    response = post(client_for(adult), {"instrument": "phq9", "answers": [0] * 8 + [1]})
    assert response.status_code == 201
    assert response.json()["risk"] is True and "988" in response.json()["crisis_resources"]
    alert = ClinicalAlert.objects.get()
    assert alert.clinician == dana and alert.acknowledged_at is None
    (notification,) = Notification.objects.filter(recipient=dana, kind="clinical_alert")
    assert notification.data == {"link": "/alerts/"}  # the web client's alerts page
    assert "phq" not in (notification.title + notification.body).lower()
    assert AuditEntry.objects.filter(action="clinical_alert.raise").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "phq9", "answers": PHQ_MILD[:8]}, "answers"),  # an item missing
        ({"instrument": "phq9", "answers": [*PHQ_MILD, 0]}, "answers"),  # one too many
        ({"instrument": "phq9", "answers": [4, 0, 0, 0, 0, 0, 0, 0, 0]}, "answers"),  # out of scale
        ({"instrument": "phq9", "answers": [-1, 0, 0, 0, 0, 0, 0, 0, 0]}, "answers"),
        ({"instrument": "phq9", "answers": ["1"] * 9}, "answers"),  # wrong type
        ({"instrument": "phq9", "answers": [True] * 9}, "answers"),
        ({"instrument": "phq9", "answers": "111111111"}, "answers"),
        ({"instrument": "phq9"}, "answers"),
        ({"instrument": "phqa", "answers": PHQ_MILD}, "instrument"),  # the adolescents' version
        ({"instrument": "nope", "answers": PHQ_MILD}, "instrument"),
        ({"instrument": 9, "answers": PHQ_MILD}, "instrument"),
    ],
)
def test_bad_answers_are_a_400_and_store_nothing(
    client_for: Callable[[User], APIClient],
    adult: User,
    db_snapshot: Callable[[], dict[str, int]],
    body: dict[str, Any],
    field: str,
) -> None:
    client = client_for(adult)
    before = db_snapshot()
    response = post(client, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_not_due_is_a_400(
    client_for: Callable[[User], APIClient], adult: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(adult)
    assert post(client, {"instrument": "phq9", "answers": PHQ_MILD}).status_code == 201
    before = db_snapshot()
    response = post(client, {"instrument": "phq9", "answers": PHQ_MILD})  # answered: next one in 7 days
    assert response.status_code == 400 and "not due" in response.json()["error"]["fields"]["instrument"][0]
    assert db_snapshot() == before
    with time_machine.travel(timezone.now() + timedelta(days=7, hours=1)):
        assert post(client_for(adult), {"instrument": "phq9", "answers": PHQ_MILD}).status_code == 201


def test_an_instrument_the_program_does_not_give_is_not_due(
    client_for: Callable[[User], APIClient], teen: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(teen)
    before = db_snapshot()
    assert post(client, {"instrument": "gad7", "answers": GAD_MODERATE}).status_code == 400
    assert db_snapshot() == before


def test_nobody_answers_for_someone_else(
    client_for: Callable[[User], APIClient],
    adult: User,
    dana: User,
    ada: User,
    pat: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    other = UserFactory.create(adult=True)
    clients = [client_for(user) for user in (other, adult, dana, ada, pat)]
    before = db_snapshot()
    body = {"instrument": "phq9", "answers": PHQ_MILD, "participant": adult.pk}
    assert post(clients[0], body).status_code == 403  # someone else, naming the participant
    assert post(clients[1], {**body, "participant": other.pk}).status_code == 403  # for another
    for staff in clients[2:]:
        assert post(staff, {"instrument": "phq9", "answers": PHQ_MILD}).status_code == 403
    assert post(APIClient(), {"instrument": "phq9", "answers": PHQ_MILD}).status_code == 401
    assert db_snapshot() == before


def test_due_notice_once_per_occurrence_and_phi_free(adult: User) -> None:
    assert services.notify_due_questionnaires() == 2  # phq9 and gad7 at intake
    assert services.notify_due_questionnaires() == 0
    notifications = Notification.objects.filter(recipient=adult, kind="questionnaire_due")
    assert notifications.count() == 2 and DueNotice.objects.count() == 2
    # The web client's questionnaire page, where the participant answers them.
    assert {notification.data["link"] for notification in notifications} == {"/questionnaires/"}
    for notification in notifications:
        text = (notification.title + notification.body).lower()
        assert "phq" not in text and "gad" not in text and "depress" not in text and "anxi" not in text
