"""The OpenAPI schema tells the truth: schemathesis generates requests from it (valid and
invalid ones) for every operation and sends them to a real Daphne process, as an admin and as
a participant; every answer must be no server error, a status the schema lists for the
operation, and a body of the schema the operation documents for that status."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NonInteractiveExampleWarning
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.models import User
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session
from tests.processes import daphne, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Per operation, mode and caller: small, so the whole run stays within about a minute.
EXAMPLES = 4
# Operations that would end the fuzzing caller's own access for the cases after them.
SPARED = {("POST", "/api/v1/auth/logout/")}
RELAXED_LIMITS = {"API_RATE_PER_USER": "100000/min", "API_RATE_ANON": "100000/min", "API_RATE_LOGIN": "100000/min"}


def _some_data(admin: User, participant: User) -> None:
    """A little of everything, so that ids 1, 2, 3 ... name real rows now and then."""
    clinician = UserFactory.create(username="fuzz-clinician")
    program = make_program()
    make_enrollment(participant=participant, program=program, clinician=clinician)
    group = make_group(program=program, lead=clinician, members=[participant])
    make_session(group=group, hosts=[clinician], roster=[participant])
    make_session(kind="individual", hosts=[clinician], roster=[participant])
    UserFactory.create(guardian=True)


def _fuzz(base_url: str, schema: Any, token: str) -> list[str]:
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SPARED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            try:
                check()
            # Collect every operation's failures, then report them all (schemathesis raises a
            # BaseExceptionGroup of them).
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    return failures


@pytest.mark.filterwarnings(
    f"ignore::{NonInteractiveExampleWarning.__module__}.{NonInteractiveExampleWarning.__name__}"
)
def test_every_operation_answers_as_its_schema_says() -> None:
    admin = UserFactory.create(username="fuzz-admin", admin=True)
    participant = UserFactory.create(username="fuzz-participant", adult=True)
    _some_data(admin, participant)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with daphne(port, RELAXED_LIMITS) as log:
        with urllib.request.urlopen(f"{base_url}/api/schema/?format=json", timeout=30) as response:
            raw = json.loads(response.read())
        schema = schemathesis.openapi.from_dict(raw)
        failures: list[str] = []
        for user in (admin, participant):
            _, token = AuthToken.objects.create(user=user)
            failures += _fuzz(base_url, schema, token)
        assert failures == [], "\n\n".join(failures) + "\n\nserver log:\n" + log.text()[-5000:]
