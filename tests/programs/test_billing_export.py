"""The billing-day export (issue 21, item 6): GET /api/v1/programs/{id}/billing/.

Hand-computed rows against each seeded payer rule (programs.payer_rules). The weeks, in
the program's zone (America/Chicago): 2026-W48 is Monday 23 to Sunday 29 November,
2026-W49 Monday 30 November to Sunday 6 December, 2026-W50 Monday 7 to Sunday 13 December.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from importlib import import_module
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceStatus
from attendance.services import override_attendance
from audit.models import AuditEntry
from programs.billing import billing_days
from programs.billing_services import COLUMNS
from programs.models import PayerRule, Program
from programs.serializers import BillingDaySerializer
from sessions.models import Session, SessionKind
from tests.factories import EnrollmentFactory, SessionFactory, UserFactory, make_group, make_program

pytestmark = pytest.mark.django_db

Clients = Callable[[User], APIClient]
CHICAGO = ZoneInfo("America/Chicago")
W48_MONDAY = date(2026, 11, 23)


def payer_rule(code: str) -> PayerRule:
    """A seeded rule (transactional tests elsewhere flush the rows the migration seeded)."""
    if not PayerRule.objects.filter(code=code).exists():
        import_module("programs.migrations.0006_seed_payer_rules").seed(apps, None)
    return PayerRule.objects.get(code=code)


def day(offset: int) -> date:
    """W48's Monday plus ``offset`` days."""
    return W48_MONDAY + timedelta(days=offset)


def attended(
    person: User,
    on: date,
    minutes: int,
    *,
    service: str = "individual_therapy",
    hour: int = 9,
    kind: str = SessionKind.INDIVIDUAL,
    length: int | None = None,
    **fields: Any,
) -> AttendanceRecord:
    """An ended session starting at ``hour`` local time on ``on`` (``length`` minutes, by
    default as long as attended), and the person's record."""
    starts_at = datetime(on.year, on.month, on.day, hour, tzinfo=CHICAGO)
    length = length or max(minutes, 15)
    session = SessionFactory.create(
        kind=kind,
        service=service,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=length),
        ended_at=starts_at + timedelta(minutes=length),
        roster=[person],
        **fields,
    )
    return AttendanceRecord.objects.create(
        session=session,
        user=person,
        attended_seconds=minutes * 60,
        attended_minutes=minutes,
        status=AttendanceStatus.ATTENDED if minutes else AttendanceStatus.ABSENT,
    )


def enroll(person: User, program: Program, clinician: User, start: date = date(2026, 9, 1)) -> None:
    EnrollmentFactory.create(participant=person, program=program, primary_clinician=clinician, start_date=start)


def export(client: APIClient, program: Program, first: date, last: date, fmt: str | None = None) -> Any:
    query = {"from": first.isoformat(), "to": last.isoformat()}
    if fmt is not None:
        query["format"] = fmt
    return client.get(f"/api/v1/programs/{program.pk}/billing/", query)


def rows_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content[:500]
    return list(response.json()["rows"])


def brief(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (row["date"], row["attended_minutes"], row["day_meets_rule"], row["week_meets_rule"], row["short_reason"])
        for row in rows
    ]


@pytest.fixture(autouse=True)
def _after_the_weeks() -> Iterator[time_machine.Traveller]:
    """The weeks these tests export are over (one test travels back into one)."""
    with time_machine.travel(datetime(2027, 1, 15, 12, tzinfo=CHICAGO), tick=False) as traveller:
        yield traveller


@pytest.fixture
def program(dana: User) -> Program:
    return make_program(
        age_band="adult", time_zone="America/Chicago", clinicians=[dana], payer_rule=payer_rule("H0015")
    )


@pytest.fixture
def sam_enrolled(sam: User, dana: User, program: Program) -> User:
    enroll(sam, program, dana)
    return sam


# --- H0015: at least 3 hours a day on at least 3 days a week ------------------------------


def test_h0015_days_of_180_pass_179_fail_and_weeks_need_three_such_days(
    client_for: Clients, ada: User, dana: User, sam_enrolled: User, program: Program
) -> None:
    sam = sam_enrolled
    group = make_group(program=program, lead=dana, members=[sam])
    # W48: Monday 90 + 90 in two services (180), Tuesday 179, Wednesday 200, Thursday 180 in
    # a session starting 22:00 Chicago (04:00 UTC on Friday: it counts on Thursday).
    attended(sam, day(0), 90, service="individual_therapy", hour=9)
    attended(sam, day(0), 90, service="group_therapy", hour=13, kind=SessionKind.GROUP, group=group)
    attended(sam, day(1), 179)
    attended(sam, day(2), 200)
    attended(sam, day(3), 180, hour=22)
    # W49: Monday 180, Tuesday 180, Wednesday 100: two qualifying days.
    attended(sam, day(7), 180)
    attended(sam, day(8), 180)
    attended(sam, day(9), 100)
    rows = rows_of(export(client_for(ada), program, day(0), day(13)))
    week_short = "week has 2 qualifying days of 3"
    assert brief(rows) == [
        ("2026-11-23", 180, True, True, ""),
        ("2026-11-24", 179, False, True, "attended 179 of 180 minutes"),
        ("2026-11-25", 200, True, True, ""),
        ("2026-11-26", 180, True, True, ""),
        ("2026-11-30", 180, True, False, week_short),
        ("2026-12-01", 180, True, False, week_short),
        ("2026-12-02", 100, False, False, f"attended 100 of 180 minutes; {week_short}"),
    ]
    monday = rows[0]
    assert monday == {
        "participant": sam.pk,
        "first_name": sam.first_name,
        "last_name": sam.last_name,
        "date": "2026-11-23",
        "attended_minutes": 180,
        "services": ["group_therapy", "individual_therapy"],
        "day_meets_rule": True,
        "week": "2026-W48",
        "week_attended_minutes": 739,
        "week_qualifying_days": 3,
        "week_meets_rule": True,
        "billable": True,
        "short_reason": "",
    }
    assert [row["billable"] for row in rows] == [True, False, True, True, False, False, False]
    assert {row["week"]: row["week_qualifying_days"] for row in rows} == {"2026-W48": 3, "2026-W49": 2}


def test_a_week_under_way_is_checked_as_it_stands(
    client_for: Clients, ada: User, sam_enrolled: User, program: Program, _after_the_weeks: time_machine.Traveller
) -> None:
    attended(sam_enrolled, day(0), 180)
    attended(sam_enrolled, day(1), 100)
    _after_the_weeks.move_to(datetime(2026, 11, 25, 12, tzinfo=CHICAGO))  # W48's Wednesday
    rows = rows_of(export(client_for(ada), program, day(0), day(6)))
    assert brief(rows) == [
        ("2026-11-23", 180, True, False, "week has 1 qualifying day of 3 so far"),
        ("2026-11-24", 100, False, False, "attended 100 of 180 minutes; week has 1 qualifying day of 3 so far"),
    ]
    _after_the_weeks.move_to(datetime(2026, 11, 30, 0, 0, tzinfo=CHICAGO))  # W49 begins: W48 is over
    rows = rows_of(export(client_for(ada), program, day(0), day(6)))
    assert rows[0]["short_reason"] == "week has 1 qualifying day of 3"


def test_a_week_counts_its_days_outside_the_range_asked_for(
    client_for: Clients, ada: User, sam_enrolled: User, program: Program
) -> None:
    for offset in (0, 1, 2):
        attended(sam_enrolled, day(offset), 180)
    rows = rows_of(export(client_for(ada), program, day(2), day(2)))
    assert brief(rows) == [("2026-11-25", 180, True, True, "")]
    assert rows[0]["week_qualifying_days"] == 3 and rows[0]["week_attended_minutes"] == 540


def test_an_override_changes_the_figure(client_for: Clients, ada: User, sam_enrolled: User, program: Program) -> None:
    record = attended(sam_enrolled, day(0), 150, length=180)
    attended(sam_enrolled, day(1), 180)
    attended(sam_enrolled, day(2), 180)
    client = client_for(ada)
    before = rows_of(export(client, program, day(0), day(6)))
    assert brief(before)[0] == (
        "2026-11-23",
        150,
        False,
        False,
        "attended 150 of 180 minutes; week has 2 qualifying days of 3",
    )
    override_attendance(by=ada, record=record, changes={"override_minutes": 180}, reason="Camera failed; seen")
    after = rows_of(export(client, program, day(0), day(6)))
    assert brief(after) == [
        ("2026-11-23", 180, True, True, ""),
        ("2026-11-24", 180, True, True, ""),
        ("2026-11-25", 180, True, True, ""),
    ]


def test_days_without_attended_time_and_days_outside_the_enrollment_are_left_out(
    client_for: Clients, ada: User, dana: User, sam: User, program: Program
) -> None:
    enroll(sam, program, dana, start=day(2))
    attended(sam, day(0), 200)  # before the enrollment: neither a row nor part of the week
    attended(sam, day(2), 0)  # an absence: no attended time
    attended(sam, day(3), 180)
    other_group = make_group(program=make_program(), lead=dana)
    attended(sam, day(4), 180, kind=SessionKind.GROUP, group=other_group)  # another program's group
    outsider = UserFactory.create(adult=True)
    attended(outsider, day(3), 180)  # not enrolled in the program
    rows = rows_of(export(client_for(ada), program, day(0), day(6)))
    assert brief(rows) == [("2026-11-26", 180, True, False, "week has 1 qualifying day of 3")]
    assert rows[0]["week_attended_minutes"] == 180


# --- S9480 (per day, the program's day length) and Medicare IOP (9-19 h a week) ----------


def test_s9480_days_meet_at_the_programs_day_length_and_every_week_meets(
    client_for: Clients, ada: User, dana: User, sam: User
) -> None:
    program = make_program(clinicians=[dana], payer_rule=payer_rule("S9480"), minutes_per_day_target=120)
    enroll(sam, program, dana)
    attended(sam, day(0), 120)
    attended(sam, day(1), 119)
    rows = rows_of(export(client_for(ada), program, day(0), day(6)))
    assert brief(rows) == [
        ("2026-11-23", 120, True, True, ""),
        ("2026-11-24", 119, False, True, "attended 119 of 120 minutes"),
    ]


def test_medicare_weeks_of_540_pass_539_fail_and_over_19_hours_is_flagged(
    client_for: Clients, ada: User, dana: User, sam: User
) -> None:
    program = make_program(clinicians=[dana], payer_rule=payer_rule("MEDICARE_IOP"))
    enroll(sam, program, dana)
    for offset, minutes in ((0, 180), (1, 180), (2, 180), (7, 180), (8, 180), (9, 179), (14, 480), (15, 480)):
        attended(sam, day(offset), minutes)
    attended(sam, day(16), 181)
    rows = rows_of(export(client_for(ada), program, day(0), day(20)))
    by_week = {row["week"]: (row["week_attended_minutes"], row["week_meets_rule"], row["short_reason"]) for row in rows}
    assert by_week == {
        "2026-W48": (540, True, ""),
        "2026-W49": (539, False, "week has 539 of 540 minutes"),
        "2026-W50": (1141, False, "week has 1141 minutes, over the maximum of 1140"),
    }
    # Medicare sets no daily minimum: every day with attended time meets.
    assert all(row["day_meets_rule"] for row in rows) and len(rows) == 9


# --- Formats ------------------------------------------------------------------------------


def test_csv_has_the_same_columns_and_values(
    client_for: Clients, ada: User, dana: User, sam_enrolled: User, program: Program
) -> None:
    group = make_group(program=program, lead=dana, members=[sam_enrolled])
    attended(sam_enrolled, day(0), 100, service="psychoeducation", kind=SessionKind.GROUP, group=group)
    attended(sam_enrolled, day(0), 80, service="skills_group", hour=14, kind=SessionKind.GROUP, group=group)
    response = export(client_for(ada), program, day(0), day(6), fmt="csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="billing-program-{program.pk}-2026-11-23-2026-11-29.csv"'
    )
    assert response["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(lines[0]) == COLUMNS
    assert lines[1:] == [
        [
            str(sam_enrolled.pk),
            sam_enrolled.first_name,
            sam_enrolled.last_name,
            "2026-11-23",
            "180",
            "psychoeducation;skills_group",
            "true",
            "2026-W48",
            "180",
            "1",
            "false",
            "false",
            "week has 1 qualifying day of 3",
        ]
    ]
    as_json = rows_of(export(client_for(ada), program, day(0), day(6), fmt="json"))
    assert [str(as_json[0][column]).lower() for column in COLUMNS if column != "services"] == [
        value.lower() for column, value in zip(COLUMNS, lines[1], strict=True) if column != "services"
    ]


def test_a_name_a_spreadsheet_would_run_is_quoted_in_csv(
    client_for: Clients, ada: User, dana: User, program: Program
) -> None:
    person = UserFactory.create(adult=True, first_name="=HYPERLINK(1)", last_name="-Smith")
    enroll(person, program, dana)
    attended(person, day(0), 180)
    response = export(client_for(ada), program, day(0), day(0), fmt="csv")
    [_, row] = list(csv.reader(io.StringIO(response.content.decode())))
    assert row[1:3] == ["'=HYPERLINK(1)", "'-Smith"]


def test_json_is_the_default_and_says_what_it_covers(client_for: Clients, ada: User, program: Program) -> None:
    response = export(client_for(ada), program, day(0), day(6))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "program": program.pk,
        "payer_rule": "H0015",
        "from": "2026-11-23",
        "to": "2026-11-29",
        "rows": [],
    }
    assert tuple(BillingDaySerializer().fields) == COLUMNS


# --- Audit --------------------------------------------------------------------------------


def test_every_export_is_audited_without_any_participant_data(
    client_for: Clients, ada: User, sam_enrolled: User, program: Program
) -> None:
    User.objects.filter(pk=sam_enrolled.pk).update(first_name="Samuel", last_name="Okafor")
    attended(sam_enrolled, day(0), 180)
    attended(sam_enrolled, day(1), 150)
    client = client_for(ada)
    before = AuditEntry.objects.count()
    assert export(client, program, day(0), day(6), fmt="csv").status_code == 200
    assert export(client, program, day(0), day(0)).status_code == 200
    entries = list(AuditEntry.objects.filter(action="billing.export").order_by("seq"))
    assert AuditEntry.objects.count() == before + 2 and len(entries) == 2
    first, second = entries
    assert (first.actor_id, first.target_type, first.target_id) == (ada.pk, "programs.program", str(program.pk))
    assert first.data == {
        "from": "2026-11-23",
        "to": "2026-11-29",
        "format": "csv",
        "payer_rule": "H0015",
        "row_count": 2,
    }
    assert second.data == {
        "from": "2026-11-23",
        "to": "2026-11-23",
        "format": "json",
        "payer_rule": "H0015",
        "row_count": 1,
    }
    text = repr([entry.data for entry in entries])
    for private in ("Samuel", "Okafor", sam_enrolled.username, "150", "attended", "short"):
        assert private not in text


# --- Who may export, and bad input --------------------------------------------------------


@pytest.mark.parametrize("who", ["dana", "sam", "pat", "theo"])
def test_only_admins_export(
    who: str, request: pytest.FixtureRequest, client_for: Clients, program: Program, sam_enrolled: User
) -> None:
    attended(sam_enrolled, day(0), 180)
    user = request.getfixturevalue(who)
    before = AuditEntry.objects.count()
    for fmt in ("json", "csv"):
        response = export(client_for(user), program, day(0), day(6), fmt=fmt)
        assert response.status_code == 403, (who, response.content)
        assert response.json()["error"]["code"] == "permission_denied"
    assert AuditEntry.objects.count() == before


def test_an_unknown_program_is_404_and_anonymous_is_401(client_for: Clients, ada: User, api: APIClient) -> None:
    before = AuditEntry.objects.count()
    for program_id in ("999999", str(2**63), "9" * 30):
        query = {"from": "2026-11-23", "to": "2026-11-29"}
        response = client_for(ada).get(f"/api/v1/programs/{program_id}/billing/", query)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/programs/1/billing/", {"from": "2026-11-23", "to": "2026-11-29"}).status_code == 401
    assert AuditEntry.objects.count() == before


def test_a_program_without_a_payer_rule_is_409(client_for: Clients, ada: User) -> None:
    program = make_program()
    before = AuditEntry.objects.count()
    response = export(client_for(ada), program, day(0), day(6))
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_payer_rule"
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2026-11-29"}, "from"),
        ({"from": "2026-11-23"}, "to"),
        ({"from": "", "to": "2026-11-29"}, "from"),
        ({"from": "2026-13-01", "to": "2026-11-29"}, "from"),
        ({"from": "2026-11-23", "to": "tomorrow"}, "to"),
        ({"from": "2026-11-23T00:00:00Z", "to": "2026-11-29"}, "from"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"from": "2026-11-29", "to": "2026-11-23"}, "to"),
        ({"from": "2026-01-01", "to": "2027-01-02"}, "to"),  # 367 days
        ({"from": "2026-11-23", "to": "2026-11-29", "format": "xml"}, "format"),
        ({"from": "2026-11-23", "to": "2026-11-29", "format": "CSV"}, "format"),
    ],
)
def test_bad_input_is_400_and_nothing_is_audited(
    query: dict[str, str],
    field: str,
    client_for: Clients,
    ada: User,
    program: Program,
    sam_enrolled: User,
    db_snapshot: Callable[[], dict[str, int]],
) -> None:
    attended(sam_enrolled, day(0), 180)
    client = client_for(ada)
    before = db_snapshot()
    response = client.get(f"/api/v1/programs/{program.pk}/billing/", query)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert db_snapshot() == before


def test_a_whole_leap_year_is_allowed(client_for: Clients, ada: User, program: Program) -> None:
    response = client_for(ada).get(
        f"/api/v1/programs/{program.pk}/billing/", {"from": "2028-01-01", "to": "2028-12-31"}
    )
    assert response.status_code == 200, response.content


# --- Queries ------------------------------------------------------------------------------


def _request_queries(client: APIClient, program: Program, fmt: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = export(client, program, day(0), day(20), fmt=fmt)
    assert response.status_code == 200
    return len(captured)


def test_the_export_costs_the_same_queries_whatever_the_participants_and_days(
    client_for: Clients,
    ada: User,
    dana: User,
    sam_enrolled: User,
    program: Program,
    django_assert_num_queries: Any,
) -> None:
    client = client_for(ada)
    attended(sam_enrolled, day(0), 180)
    small = {fmt: _request_queries(client, program, fmt) for fmt in ("json", "csv")}
    group = make_group(program=program, lead=dana)
    for _ in range(4):
        person = UserFactory.create(adult=True)
        enroll(person, program, dana)
        for offset in range(0, 21, 2):
            attended(person, day(offset), 90, kind=SessionKind.GROUP, group=group, service="skills_group")
            attended(person, day(offset), 95, hour=14)
    large = {fmt: _request_queries(client, program, fmt) for fmt in ("json", "csv")}
    assert large == small
    assert len(rows_of(export(client, program, day(0), day(20)))) == 1 + 4 * 11
    rule = payer_rule("H0015")
    with django_assert_num_queries(2):
        rows = billing_days(program=program, rule=rule, first_day=day(0), last_day=day(20))
    assert len(rows) == 45


# --- Payer rules and a program's rule over the API -----------------------------------------


def test_the_seeded_rules_are_listed_for_staff(client_for: Clients, dana: User) -> None:
    payer_rule("H0015")
    response = client_for(dana).get("/api/v1/payer-rules/")
    assert response.status_code == 200
    by_code = {rule["code"]: rule for rule in response.json()}
    assert set(by_code) == {"H0015", "MEDICARE_IOP", "S9480"}
    figures = (
        "daily_min_minutes",
        "daily_min_from_program",
        "min_qualifying_days_per_week",
        "weekly_min_minutes",
        "weekly_max_minutes",
    )
    assert [by_code["H0015"][name] for name in figures] == [180, False, 3, None, None]
    assert [by_code["S9480"][name] for name in figures] == [None, True, None, None, None]
    assert [by_code["MEDICARE_IOP"][name] for name in figures] == [None, False, None, 540, 1140]


def test_admins_edit_a_rule_and_the_export_follows(
    client_for: Clients, ada: User, sam_enrolled: User, program: Program
) -> None:
    for offset in (0, 1):
        attended(sam_enrolled, day(offset), 180)
    rule = payer_rule("H0015")
    response = client_for(ada).patch(
        f"/api/v1/payer-rules/{rule.pk}/", {"min_qualifying_days_per_week": 2}, format="json"
    )
    assert response.status_code == 200 and response.json()["min_qualifying_days_per_week"] == 2
    entry = AuditEntry.objects.filter(action="payer_rule.update").latest("seq")
    assert entry.data == {"fields": ["min_qualifying_days_per_week"], "new": {"min_qualifying_days_per_week": 2}}
    rows = rows_of(export(client_for(ada), program, day(0), day(6)))
    assert [row["billable"] for row in rows] == [True, True]


@pytest.mark.parametrize(
    "body",
    [
        {"daily_min_from_program": True},  # H0015 keeps its 180: one or the other
        {"weekly_min_minutes": 600, "weekly_max_minutes": 500},
        {"min_qualifying_days_per_week": 8},
        {"daily_min_minutes": 0},
        {"billed_per": "month"},
        {"code": "X"},
    ],
)
def test_a_bad_rule_edit_is_400_and_changes_nothing(
    body: dict[str, Any], client_for: Clients, ada: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    rule = payer_rule("H0015")
    client = client_for(ada)
    before = db_snapshot()
    response = client.patch(f"/api/v1/payer-rules/{rule.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert db_snapshot() == before
    rule.refresh_from_db()
    assert (rule.daily_min_minutes, rule.min_qualifying_days_per_week) == (180, 3)


def test_clinicians_may_not_edit_a_rule(client_for: Clients, dana: User) -> None:
    rule = payer_rule("H0015")
    response = client_for(dana).patch(f"/api/v1/payer-rules/{rule.pk}/", {"daily_min_minutes": 60}, format="json")
    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.daily_min_minutes == 180


def test_a_programs_payer_rule_is_set_read_and_cleared_by_code(client_for: Clients, ada: User) -> None:
    payer_rule("S9480")
    client = client_for(ada)
    created = client.post(
        "/api/v1/programs/",
        {
            "name": "Adult IOP",
            "level_of_care": "IOP",
            "age_band": "adult",
            "time_zone": "America/Chicago",
            "payer_rule": "S9480",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    program_id = created.json()["id"]
    assert created.json()["payer_rule"] == "S9480"
    assert (
        client.patch(f"/api/v1/programs/{program_id}/", {"payer_rule": "MEDICARE_IOP"}, format="json").json()[
            "payer_rule"
        ]
        == "MEDICARE_IOP"
    )
    assert client.get(f"/api/v1/programs/{program_id}/").json()["payer_rule"] == "MEDICARE_IOP"
    assert (
        client.patch(f"/api/v1/programs/{program_id}/", {"payer_rule": None}, format="json").json()["payer_rule"]
        is None
    )
    for bad in ("NOPE", 12, ["H0015"], True):
        response = client.patch(f"/api/v1/programs/{program_id}/", {"payer_rule": bad}, format="json")
        assert response.status_code == 400 and "payer_rule" in response.json()["error"]["fields"], (
            bad,
            response.content,
        )
    assert Program.objects.get(pk=program_id).payer_rule is None


def test_a_late_session_counts_on_its_local_date_and_week(
    client_for: Clients, ada: User, dana: User, sam: User
) -> None:
    """Sunday 8 November 2026 23:00 in Chicago (CST, after the fall-back change of the 1st)
    is 05:00 UTC on Monday the 9th: the day is Sunday's, the week 2026-W45."""
    program = make_program(clinicians=[dana], payer_rule=payer_rule("S9480"), minutes_per_day_target=60)
    enroll(sam, program, dana)
    attended(sam, date(2026, 11, 8), 60, hour=23)
    rows = rows_of(export(client_for(ada), program, date(2026, 11, 2), date(2026, 11, 9)))
    assert [(row["date"], row["week"]) for row in rows] == [("2026-11-08", "2026-W45")]
    assert Session.objects.get().starts_at.astimezone(ZoneInfo("UTC")).date() == date(2026, 11, 9)
