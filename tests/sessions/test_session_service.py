"""The service a session delivers (issue 21, item 6: what a bill is built from): a default
from the kind, copied from a schedule to its occurrences, accepted and returned by the API,
refused when unknown; rows inserted without one (bulk_create) get the kind's default too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from importlib import import_module
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from sessions.models import RecurringSchedule, Session, SessionKind, SessionService, default_service
from tests.factories import make_enrollment, make_group, make_program

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
BAD_SERVICES: list[Any] = ["yoga", "Group therapy", "", "GROUP_THERAPY", 12, True, ["group_therapy"], {"a": 1}]


def _schedule_body(group_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "group",
        "title": "Skills",
        "group": group_id,
        "weekdays": [1, 3],
        "start_time": "17:00",
        "duration_minutes": 90,
        "starts_on": timezone.localdate().isoformat(),
        **extra,
    }


def _single_body(sam: User, dana: User, **extra: Any) -> dict[str, Any]:
    starts_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0).isoformat()
    return {
        "kind": "individual",
        "title": "Check-in",
        "starts_at": starts_at,
        "duration_minutes": 60,
        "participant": sam.pk,
        "clinician": dana.pk,
        **extra,
    }


@pytest.mark.parametrize(
    ("kind", "service"),
    [("group", "group_therapy"), ("individual", "individual_therapy"), ("family", "family_therapy")],
)
def test_each_kind_has_its_default(kind: str, service: str) -> None:
    assert default_service(kind) == service


def test_a_schedule_without_a_service_takes_its_kinds_and_its_sessions_copy_it(
    client_for: Clients, ada: User, dana: User, sam: User
) -> None:
    group = make_group(program=make_program(), lead=dana, members=[sam])
    response = client_for(ada).post("/api/v1/schedules/", _schedule_body(group.pk), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["service"] == "group_therapy"
    sessions = Session.objects.filter(schedule_id=response.json()["id"])
    assert sessions.exists() and set(sessions.values_list("service", flat=True)) == {"group_therapy"}


def test_a_schedules_service_is_copied_to_every_occurrence(
    client_for: Clients, ada: User, dana: User, sam: User
) -> None:
    group = make_group(program=make_program(), lead=dana, members=[sam])
    body = _schedule_body(group.pk, service="skills_group")
    response = client_for(ada).post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 201, response.content
    schedule_id = response.json()["id"]
    assert response.json()["service"] == "skills_group"
    assert client_for(ada).get(f"/api/v1/schedules/{schedule_id}/").json()["service"] == "skills_group"
    sessions = Session.objects.filter(schedule_id=schedule_id)
    assert sessions.count() >= 2 and set(sessions.values_list("service", flat=True)) == {"skills_group"}
    listed = client_for(sam).get("/api/v1/sessions/", {"to": (date.today() + timedelta(days=14)).isoformat()})
    assert listed.status_code == 200 and {item["service"] for item in listed.json()} == {"skills_group"}


def test_a_single_session_takes_a_service_or_its_kinds(client_for: Clients, ada: User, dana: User, sam: User) -> None:
    make_enrollment(participant=sam, program=make_program(), clinician=dana)
    client = client_for(ada)
    plain = client.post("/api/v1/sessions/", _single_body(sam, dana), format="json")
    assert plain.status_code == 201, plain.content
    assert plain.json()["service"] == "individual_therapy"
    body = _single_body(sam, dana, service="medication_management")
    body["starts_at"] = (timezone.now() + timedelta(days=3)).replace(microsecond=0).isoformat()
    medication = client.post("/api/v1/sessions/", body, format="json")
    assert medication.status_code == 201, medication.content
    assert medication.json()["service"] == "medication_management"
    assert Session.objects.get(pk=medication.json()["id"]).service == SessionService.MEDICATION_MANAGEMENT
    assert client.get(f"/api/v1/sessions/{medication.json()['id']}/").json()["service"] == "medication_management"


@pytest.mark.parametrize("value", BAD_SERVICES)
def test_an_unknown_service_is_400_and_changes_nothing(
    value: Any,
    client_for: Clients,
    ada: User,
    dana: User,
    sam: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    make_enrollment(participant=sam, program=make_program(), clinician=dana)
    group = make_group(program=make_program(), lead=dana, members=[sam])
    client = client_for(ada)
    before = db_snapshot()
    for url, body in (
        ("/api/v1/schedules/", _schedule_body(group.pk, service=value)),
        ("/api/v1/sessions/", _single_body(sam, dana, service=value)),
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (url, value, response.content)
        error = response.json()["error"]
        assert error["code"] == "invalid" and "service" in error["fields"], error
    assert db_snapshot() == before


def test_rows_inserted_without_save_get_their_kinds_service(dana: User) -> None:
    """bulk_create and raw SQL skip Model.save(): the database gives the default."""
    now = timezone.now()
    group = make_group(program=make_program(), lead=dana)
    [individual, in_group] = Session.objects.bulk_create(
        [
            Session(kind=SessionKind.INDIVIDUAL, title="x", starts_at=now, ends_at=now + timedelta(hours=1)),
            Session(kind=SessionKind.GROUP, group=group, title="x", starts_at=now, ends_at=now + timedelta(hours=1)),
        ]
    )
    assert Session.objects.get(pk=individual.pk).service == "individual_therapy"
    assert Session.objects.get(pk=in_group.pk).service == "group_therapy"


def test_raw_sql_that_leaves_the_service_out_gets_the_kinds(dana: User) -> None:
    from django.db import connection

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO therapy_sessions_session (kind, title, starts_at, ends_at, admit_directly, created_at)"
            " VALUES ('individual', 'x', %s, %s, false, %s) RETURNING id",
            [now, now + timedelta(hours=1), now],
        )
        [session_id] = cursor.fetchone()
    assert Session.objects.get(pk=session_id).service == "individual_therapy"


def test_the_database_refuses_a_service_it_does_not_know(dana: User) -> None:
    now = timezone.now()
    session = Session.objects.create(
        kind=SessionKind.INDIVIDUAL, title="x", starts_at=now, ends_at=now + timedelta(hours=1)
    )
    for value in ("", "yoga"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Session.objects.filter(pk=session.pk).update(service=value)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecurringSchedule.objects.bulk_create(
            [
                RecurringSchedule(
                    kind="individual",
                    service="art",
                    title="x",
                    participant=dana,
                    clinician=dana,
                    weekdays=[1],
                    start_time="17:00",
                    duration_minutes=60,
                    time_zone="UTC",
                    starts_on=date(2026, 1, 1),
                    created_by=dana,
                )
            ]
        )


def test_the_data_migration_gives_existing_rows_their_kinds_service(dana: User) -> None:
    """Rows from before the column (service '') get the kind's default. The constraint and
    trigger that now keep '' out are lifted inside this test's transaction to make them."""
    from django.apps import apps
    from django.db import connection

    migration = import_module("sessions.migrations.0007_session_service")
    now = timezone.now()
    group = make_group(program=make_program(), lead=dana)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE therapy_sessions_session DROP CONSTRAINT session_service_known")
        cursor.execute("ALTER TABLE therapy_sessions_session DISABLE TRIGGER session_service_from_kind")
    rows = {
        kind: Session.objects.create(
            kind=kind,
            title="x",
            group=group if kind == SessionKind.GROUP else None,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        )
        for kind in (SessionKind.GROUP, SessionKind.INDIVIDUAL, SessionKind.FAMILY)
    }
    Session.objects.filter(pk__in=[row.pk for row in rows.values()]).update(service="")
    kept = Session.objects.create(
        kind=SessionKind.GROUP,
        group=group,
        service="holistic",
        title="x",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
    )
    migration.services_from_kind(apps, None)
    services = dict(Session.objects.filter(pk__in=[row.pk for row in rows.values()]).values_list("kind", "service"))
    assert services == {"group": "group_therapy", "individual": "individual_therapy", "family": "family_therapy"}
    assert Session.objects.get(pk=kept.pk).service == "holistic"
