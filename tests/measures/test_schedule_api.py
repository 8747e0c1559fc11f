"""GET/PUT /programs/{id}/measure-schedule/ (admins set a program's questionnaires, its
clinicians read them; anyone else is refused) and GET /assessments/due/ (the participant's
questionnaires due now). Bad input is a 400 that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry
from measures.models import InstrumentSchedule
from programs.models import Program
from tests.factories import UserFactory, make_enrollment, make_program
from tests.measures.support import schedule

pytestmark = pytest.mark.django_db

WEEKLY_PHQ9 = {"instrument": "phq9", "at_intake": True, "every_days": 7}


@pytest.fixture
def adult_program(dana: User) -> Program:
    return make_program(age_band="adult", clinicians=[dana])


def url(program: Program) -> str:
    return f"/api/v1/programs/{program.pk}/measure-schedule/"


def rows(program: Program) -> list[tuple[str, bool, int]]:
    return sorted(
        InstrumentSchedule.objects.filter(program=program).values_list("instrument__code", "at_intake", "every_days")
    )


def put(client: APIClient, program: Program, body: Any) -> Any:
    return client.put(url(program), body, format="json")


def test_an_admin_sets_the_schedule_and_the_programs_clinicians_read_it(
    client_for: Callable[[User], APIClient], ada: User, dana: User, adult_program: Program
) -> None:
    body = {"instruments": [WEEKLY_PHQ9, {"instrument": "gad7", "at_intake": False, "every_days": 14}]}
    response = put(client_for(ada), adult_program, body)
    assert response.status_code == 200, response.json()
    expected = {
        "program": adult_program.pk,
        "instruments": [
            {"instrument": "gad7", "at_intake": False, "every_days": 14},
            {"instrument": "phq9", "at_intake": True, "every_days": 7},
        ],
    }
    assert response.json() == expected
    assert rows(adult_program) == [("gad7", False, 14), ("phq9", True, 7)]
    entry = AuditEntry.objects.get(action="measure_schedule.update")
    assert (entry.actor_id, entry.target_id) == (ada.pk, str(adult_program.pk))
    assert entry.data == {"instruments": [["gad7", False, 14], ["phq9", True, 7]]}
    assert client_for(dana).get(url(adult_program)).json() == expected

    # The body is the whole schedule: an instrument left out is dropped, defaults fill in.
    response = put(client_for(ada), adult_program, {"instruments": [{"instrument": "gad7"}]})
    assert response.status_code == 200
    assert rows(adult_program) == [("gad7", True, 7)]
    assert put(client_for(ada), adult_program, {"instruments": []}).status_code == 200
    assert rows(adult_program) == [] and client_for(dana).get(url(adult_program)).json()["instruments"] == []
    assert AuditEntry.objects.filter(action="measure_schedule.update").count() == 3


def test_an_adolescent_program_gives_the_phq_a_and_gad7(client_for: Callable[[User], APIClient], ada: User) -> None:
    program = make_program(age_band="adolescent")
    body = {"instruments": [{"instrument": "phqa", "every_days": 90}, {"instrument": "gad7", "every_days": 1}]}
    assert put(client_for(ada), program, body).status_code == 200
    assert rows(program) == [("gad7", True, 1), ("phqa", True, 90)]


def test_who_is_refused(
    client_for: Callable[[User], APIClient],
    db_snapshot: Callable[[], dict[str, int]],
    ada: User,
    dana: User,
    theo: User,
    sam: User,
    pat: User,
    adult_program: Program,
) -> None:
    schedule(adult_program, "gad7")
    clients = {person.username: client_for(person) for person in (ada, dana, theo, sam, pat)}  # tokens first
    before, snapshot = rows(adult_program), db_snapshot()
    body = {"instruments": [WEEKLY_PHQ9]}
    # A clinician reads but never sets it, even with a body that would be refused anyway.
    assert put(clients["dana"], adult_program, body).status_code == 403
    assert put(clients["dana"], adult_program, {"instruments": "nonsense"}).status_code == 403
    # A clinician who does not work in the program does not read it either.
    response = clients["theo"].get(url(adult_program))
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    for name in ("sam", "pat"):
        assert clients[name].get(url(adult_program)).status_code == 403
        assert put(clients[name], adult_program, body).status_code == 403
    assert APIClient().get(url(adult_program)).status_code == 401
    assert put(APIClient(), adult_program, body).status_code == 401
    missing = f"/api/v1/programs/{adult_program.pk + 1000}/measure-schedule/"
    assert clients["ada"].get(missing).status_code == 404
    assert clients["ada"].put(missing, body, format="json").status_code == 404
    assert rows(adult_program) == before and db_snapshot() == snapshot


BAD_BODIES: list[tuple[str, Any]] = [
    ("unknown instrument", {"instruments": [{"instrument": "phq10"}]}),
    ("adolescents' instrument in an adult program", {"instruments": [{"instrument": "phqa"}]}),
    ("twice the same", {"instruments": [WEEKLY_PHQ9, {**WEEKLY_PHQ9, "every_days": 14}]}),
    ("every 0 days", {"instruments": [{**WEEKLY_PHQ9, "every_days": 0}]}),
    ("every 91 days", {"instruments": [{**WEEKLY_PHQ9, "every_days": 91}]}),
    ("every -7 days", {"instruments": [{**WEEKLY_PHQ9, "every_days": -7}]}),
    ("a huge interval", {"instruments": [{**WEEKLY_PHQ9, "every_days": 10**30}]}),
    ("a fractional interval", {"instruments": [{**WEEKLY_PHQ9, "every_days": 1.5}]}),
    ("an interval as text", {"instruments": [{**WEEKLY_PHQ9, "every_days": "7"}]}),
    ("an interval as a boolean", {"instruments": [{**WEEKLY_PHQ9, "every_days": True}]}),
    ("a null interval", {"instruments": [{**WEEKLY_PHQ9, "every_days": None}]}),
    ("at_intake as text", {"instruments": [{**WEEKLY_PHQ9, "at_intake": "yes"}]}),
    ("at_intake as a number", {"instruments": [{**WEEKLY_PHQ9, "at_intake": 1}]}),
    ("instrument as a number", {"instruments": [{"instrument": 9}]}),
    ("instrument too long", {"instruments": [{"instrument": "x" * 5000}]}),
    ("no instrument", {"instruments": [{"every_days": 7}]}),
    ("an entry that is not an object", {"instruments": ["phq9"]}),
    ("instruments not a list", {"instruments": {"instrument": "phq9"}}),
    ("instruments null", {"instruments": None}),
    ("no instruments key", {}),
    ("a body that is a list", [WEEKLY_PHQ9]),
    ("too many entries", {"instruments": [WEEKLY_PHQ9] * 21}),
]


@pytest.mark.parametrize(("label", "body"), BAD_BODIES, ids=[label for label, _ in BAD_BODIES])
def test_bad_input_is_400_and_changes_nothing(
    label: str,
    body: Any,
    client_for: Callable[[User], APIClient],
    db_snapshot: Callable[[], dict[str, int]],
    ada: User,
    adult_program: Program,
) -> None:
    schedule(adult_program, "gad7", every_days=14)
    client = client_for(ada)
    before, snapshot = rows(adult_program), db_snapshot()
    response = put(client, adult_program, body)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"]
    assert rows(adult_program) == before and db_snapshot() == snapshot


def test_a_malformed_body_is_400(client_for: Callable[[User], APIClient], ada: User, adult_program: Program) -> None:
    response = client_for(ada).put(url(adult_program), "{not json", content_type="application/json")
    assert response.status_code == 400 and rows(adult_program) == []


def test_the_refusals_say_what_is_wrong(client_for: Callable[[User], APIClient], ada: User) -> None:
    program = make_program(age_band="adult")
    body = {"instruments": [{"instrument": "phqa"}, {"instrument": "phq10"}, WEEKLY_PHQ9, WEEKLY_PHQ9]}
    messages = put(client_for(ada), program, body).json()["error"]["fields"]["instruments"]
    assert messages == [
        "phqa is for the adolescent age band, not this program's adult.",
        "phq10: no such questionnaire.",
        "Name each questionnaire once: phq9 appears more than once.",
    ]


# --- What is due -------------------------------------------------------------------------


def test_a_schedule_set_through_the_api_makes_a_questionnaire_due(
    client_for: Callable[[User], APIClient], ada: User, dana: User, adult_program: Program
) -> None:
    participant = UserFactory.create(adult=True)
    make_enrollment(participant=participant, program=adult_program, clinician=dana)
    due_url = "/api/v1/assessments/due/"
    assert client_for(participant).get(due_url).json() == []
    put(client_for(ada), adult_program, {"instruments": [WEEKLY_PHQ9, {"instrument": "gad7"}]})

    due = client_for(participant).get(due_url).json()
    assert [item["instrument"]["code"] for item in due] == ["gad7", "phq9"]
    phq9 = due[1]
    assert phq9["due_on"] == participant.enrollments.get().start_date.isoformat()
    assert len(phq9["instrument"]["items"]) == 9 and phq9["instrument"]["answer_scale"][3]["value"] == 3

    answered = client_for(participant).post(
        "/api/v1/assessments/", {"instrument": "phq9", "answers": [0] * 9}, format="json"
    )
    assert answered.status_code == 201
    assert [item["instrument"]["code"] for item in client_for(participant).get(due_url).json()] == ["gad7"]


def test_only_participants_ask_what_is_due(
    client_for: Callable[[User], APIClient], ada: User, dana: User, pat: User, sam: User
) -> None:
    for person in (ada, dana, pat):
        response = client_for(person).get("/api/v1/assessments/due/")
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert APIClient().get("/api/v1/assessments/due/").status_code == 401
    assert client_for(sam).get("/api/v1/assessments/due/").json() == []  # not enrolled: none due
