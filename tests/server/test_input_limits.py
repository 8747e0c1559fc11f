"""Far, malformed and wrong-type dates, instants, weeks, numbers and ids are a 400 with the
error envelope on every endpoint that takes one, and change nothing; page sizes are capped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import GuardianLink, User
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session

pytestmark = pytest.mark.django_db

FAR_DATES = ["9999-12-31", "0001-01-01"]
MALFORMED_DATES = ["2026-13-45", "tomorrow", "2026-02-30"]
FAR_INSTANTS = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]
MALFORMED_INSTANTS = ["2026-11-24T25:00:00Z", "2026-11-24 17:00 EST", "yesterday"]
WRONG_TYPES: list[Any] = [12, True, ["2026-11-24"], {"day": 1}]
FAR_NUMBERS: list[Any] = [10**30, -(10**30), 2**63, -1, 0]
MALFORMED_NUMBERS: list[Any] = ["12abc", "1e3", 1.5, "", None, True, [1]]


@dataclass
class World:
    ada: User
    dana: User
    ava: User
    sam: User
    pat: User
    ids: dict[str, int]


@pytest.fixture
def world(ada: User, dana: User, ava: User, sam: User, pat: User) -> World:
    program = make_program(age_band="adult")
    enrollment = make_enrollment(participant=sam, program=program, clinician=dana)
    group = make_group(program=program, lead=dana, members=[sam])
    session = make_session(hosts=[dana], roster=[sam], group=group)
    link = GuardianLink.objects.get(guardian=pat)
    other_adult = UserFactory.create(adult=True)
    new_guardian = UserFactory.create(guardian=True)
    return World(
        ada, dana, ava, sam, pat,
        {"program": program.pk, "enrollment": enrollment.pk, "group": group.pk, "session": session.pk,
         "link": link.pk, "other_adult": other_adult.pk, "new_guardian": new_guardian.pk},
    )  # fmt: skip


def _assert_400_and_nothing_changed(
    response: Any, snapshot: Callable[[], dict[str, int]], before: dict[str, int], field: str
) -> None:
    assert response.status_code == 400, (field, response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"], error
    assert field in error["fields"] or field in error["message"] or error["fields"] == {}, error
    assert snapshot() == before


# --- Query parameters ---------------------------------------------------------------------

QUERY_CASES = [
    (
        "sessions list",
        "get",
        "/api/v1/sessions/",
        "from",
        FAR_DATES + MALFORMED_DATES + FAR_INSTANTS + MALFORMED_INSTANTS,
    ),
    ("sessions list", "get", "/api/v1/sessions/", "to", FAR_DATES + MALFORMED_DATES + FAR_INSTANTS),
    (
        "booking slots",
        "get",
        "/api/v1/bookings/slots/",
        "from",
        FAR_DATES + MALFORMED_DATES + FAR_INSTANTS + MALFORMED_INSTANTS + ["2026-11-24T17:00:00"],
    ),
    ("booking slots", "get", "/api/v1/bookings/slots/", "to", FAR_DATES + MALFORMED_DATES + FAR_INSTANTS),
    ("booking slots", "get", "/api/v1/bookings/slots/", "clinician", ["abc", "0", "-1", "1.5", "1e3", str(2**63)]),
    (
        "weekly requirement",
        "get",
        "/api/v1/enrollments/{enrollment}/requirement/",
        "week",
        ["9999-W52", "0001-W01", "0000-W01", "2026-W54", "2026-W00", "2026-48", "W48", "2026-Wxx"],
    ),
    (
        "weekly hours",
        "get",
        "/api/v1/participants/{other_adult}/hours/",
        "week",
        ["9999-W52", "0001-W01", "0000-W01", "2026-W54", "2026-W00", "2026-48", "W48", "2026-Wxx"],
    ),
    (
        "program weekly hours",
        "get",
        "/api/v1/programs/{program}/hours/",
        "week",
        ["9999-W52", "0001-W01", "0000-W01", "2026-W54", "2026-W00", "2026-48", "W48", "2026-Wxx"],
    ),
    ("program weekly hours", "get", "/api/v1/programs/{program}/hours/", "sort", ["name", "-risk", "1"]),
    ("notifications", "get", "/api/v1/notifications/", "unread", ["yes", "1", "maybe"]),
    (
        "billing export",
        "get",
        "/api/v1/programs/{program}/billing/",
        "from",
        FAR_DATES + MALFORMED_DATES + ["2026-11-24T17:00:00Z"],
    ),
    ("billing export", "get", "/api/v1/programs/{program}/billing/", "to", FAR_DATES + MALFORMED_DATES),
    ("billing export", "get", "/api/v1/programs/{program}/billing/", "format", ["xml", "CSV", "1"]),
]


@pytest.mark.parametrize(("label", "method", "url", "param", "values"), QUERY_CASES)
def test_bad_query_values_are_400(
    world: World, client_for: Callable[[User], APIClient], db_snapshot: Callable[[], dict[str, int]],
    label: str, method: str, url: str, param: str, values: list[str],
) -> None:  # fmt: skip
    client = client_for(world.ada)
    before = db_snapshot()
    for value in values:
        response = getattr(client, method)(url.format(**world.ids), {param: value})
        _assert_400_and_nothing_changed(response, db_snapshot, before, param)


def test_a_session_range_with_both_ends_far_is_400(world: World, client_for: Callable[[User], APIClient]) -> None:
    response = client_for(world.sam).get("/api/v1/sessions/", {"from": "9999-12-20", "to": "9999-12-31"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


# --- Pagination ---------------------------------------------------------------------------


def _paginated_list_urls() -> list[str]:
    """Every list route of the API whose view paginates (found from the URLconf, so a new
    list endpoint is covered without editing this test)."""
    urls = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = pattern.callback
                actions = getattr(view, "actions", None) or {}
                cls = getattr(view, "cls", None)
                if actions.get("get") == "list" and cls is not None and cls.pagination_class is not None:
                    urls.append(
                        "/" + (prefix + str(pattern.pattern)).replace("^", "").replace("$", "").replace("\\Z", "")
                    )

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


PAGINATED = _paginated_list_urls()


def test_the_paginated_lists_are_found() -> None:
    assert {"/api/v1/users/", "/api/v1/programs/", "/api/v1/enrollments/", "/api/v1/groups/", "/api/v1/schedules/",
            "/api/v1/notifications/", "/api/v1/consents/", "/api/v1/guardian-links/"} <= set(PAGINATED)  # fmt: skip


@pytest.mark.parametrize("url", PAGINATED)
def test_a_too_large_page_is_capped(
    url: str, world: World, client_for: Callable[[User], APIClient], settings: Any
) -> None:
    settings.API_MAX_PAGE_SIZE = 2
    UserFactory.create_batch(3, adult=True)
    client = client_for(world.ada)
    for limit in ("100000", "9" * 40):
        response = client.get(url, {"limit": limit})
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert len(body["results"]) <= 2
        if url == "/api/v1/users/":
            assert body["count"] > 2 and len(body["results"]) == 2 and "limit=2" in body["next"]


@pytest.mark.parametrize("url", PAGINATED)
@pytest.mark.parametrize(
    ("param", "value"),
    [("limit", "-1"), ("limit", "0"), ("limit", "abc"), ("limit", "1.5"), ("limit", "1e3"),
     ("offset", "-1"), ("offset", "abc"), ("offset", "9" * 40), ("offset", str(2**63))],
)  # fmt: skip
def test_bad_page_parameters_are_400(
    url: str, param: str, value: str, world: World, client_for: Callable[[User], APIClient]
) -> None:
    response = client_for(world.ada).get(url, {param: value})
    assert response.status_code == 400, (url, param, value, response.status_code, response.content[:200])
    assert response.json()["error"]["code"] == "invalid" and param in response.json()["error"]["fields"]


def test_default_page_size_and_max_are_settings(settings: Any) -> None:
    assert settings.API_MAX_PAGE_SIZE == 200 and settings.REST_FRAMEWORK["PAGE_SIZE"] == 50


# --- Bodies -------------------------------------------------------------------------------


def _body_cases(w: dict[str, int]) -> list[tuple[str, str, str, str, dict[str, Any], list[Any]]]:
    """(who, method, url, field, a valid body, bad values for field)."""
    dates = FAR_DATES + MALFORMED_DATES + WRONG_TYPES
    instants = FAR_INSTANTS + MALFORMED_INSTANTS + WRONG_TYPES
    ids = FAR_NUMBERS + MALFORMED_NUMBERS
    user = {
        "username": "newbie",
        "password": "a-long-enough-pass-2026",
        "role": "participant",
        "birth_date": "1990-05-01",
    }
    enrol = {
        "participant": w["other_adult"],
        "program": w["program"],
        "start_date": "2026-11-02",
        "primary_clinician": w["dana"],
        "medically_stable": True,
        "detox_status": "not_needed",
        "stable_living_situation": True,
        "able_to_attend": True,
    }
    single = {
        "kind": "individual",
        "title": "Check-in",
        "starts_at": "2026-12-15T17:00:00Z",
        "duration_minutes": 60,
        "participant": w["sam"],
        "clinician": w["dana"],
    }
    schedule = {
        "kind": "group",
        "title": "Process group",
        "group": w["group"],
        "weekdays": [1, 3],
        "start_time": "17:00",
        "duration_minutes": 90,
        "starts_on": "2026-12-01",
        "time_zone": "America/Chicago",
    }
    group = {"program": w["program"], "title": "New group", "modality": "group_therapy", "lead_facilitator": w["dana"]}
    window = {"weekday": 1, "start_time": "09:00", "end_time": "12:00", "valid_from": "2099-01-01"}
    time_off = {"kind": "time_off", "date": "2099-01-15"}
    return [
        ("ada", "post", "/api/v1/users/", "birth_date", user, dates),
        ("ada", "patch", "/api/v1/users/{sam}/", "birth_date", {"birth_date": "1990-05-01"}, dates),
        (
            "ada",
            "post",
            "/api/v1/guardian-links/",
            "guardian",
            {"guardian": w["new_guardian"], "adolescent": w["ava"]},
            ids,
        ),
        (
            "ada",
            "post",
            "/api/v1/guardian-links/",
            "adolescent",
            {"guardian": w["new_guardian"], "adolescent": w["ava"]},
            ids,
        ),
        ("ava", "post", "/api/v1/consents/", "link", {"link": w["link"], "scopes": ["schedule"]}, ids),
        ("ada", "post", "/api/v1/enrollments/", "start_date", enrol, dates),
        ("ada", "post", "/api/v1/enrollments/", "planned_end_date", enrol, dates),
        ("ada", "post", "/api/v1/enrollments/", "participant", enrol, ids),
        ("ada", "post", "/api/v1/enrollments/", "program", enrol, ids),
        ("ada", "post", "/api/v1/enrollments/", "primary_clinician", enrol, ids),
        (
            "ada",
            "post",
            "/api/v1/enrollments/{enrollment}/end/",
            "ended_on",
            {"status": "completed", "ended_on": "2026-11-30"},
            dates,
        ),
        (
            "ada",
            "post",
            "/api/v1/enrollments/{enrollment}/transitions/",
            "effective_date",
            {"to_level": "PHP", "effective_date": "2026-11-30", "reason": "Needs more support", "clinician": w["dana"]},
            dates,
        ),
        (
            "ada",
            "post",
            "/api/v1/enrollments/{enrollment}/transitions/",
            "clinician",
            {"to_level": "PHP", "effective_date": "2026-11-30", "reason": "Needs more support", "clinician": w["dana"]},
            ids,
        ),
        ("ada", "post", "/api/v1/groups/", "program", group, ids),
        ("ada", "post", "/api/v1/groups/", "lead_facilitator", group, ids),
        ("ada", "patch", "/api/v1/groups/{group}/", "lead_facilitator", {"lead_facilitator": w["dana"]}, ids),
        ("ada", "post", "/api/v1/groups/{group}/members/", "participant", {"participant": w["sam"]}, ids),
        ("ada", "post", "/api/v1/sessions/", "starts_at", single, instants),
        (
            "ada",
            "post",
            "/api/v1/sessions/",
            "ends_at",
            {**single, "duration_minutes": None, "ends_at": "2026-12-15T18:00:00Z"},
            instants,
        ),
        (
            "ada",
            "post",
            "/api/v1/sessions/",
            "local_date",
            {
                **single,
                "starts_at": None,
                "local_date": "2026-12-15",
                "local_time": "17:00",
                "time_zone": "America/Chicago",
            },
            dates,
        ),
        ("ada", "post", "/api/v1/sessions/", "participant", single, ids),
        ("ada", "post", "/api/v1/sessions/", "clinician", single, ids),
        (
            "ada",
            "post",
            "/api/v1/sessions/",
            "group",
            {**single, "kind": "group", "participant": None, "group": w["group"]},
            ids,
        ),
        (
            "ada",
            "post",
            "/api/v1/sessions/{session}/move/",
            "starts_at",
            {"starts_at": "2026-12-16T17:00:00Z", "ends_at": "2026-12-16T18:30:00Z"},
            instants,
        ),
        (
            "ada",
            "post",
            "/api/v1/sessions/{session}/move/",
            "ends_at",
            {"starts_at": "2026-12-16T17:00:00Z", "ends_at": "2026-12-16T18:30:00Z"},
            instants,
        ),
        ("ada", "post", "/api/v1/schedules/", "starts_on", schedule, dates),
        ("ada", "post", "/api/v1/schedules/", "ends_on", schedule, dates),
        ("ada", "post", "/api/v1/schedules/", "group", schedule, ids),
        ("ada", "post", "/api/v1/clinicians/{dana}/availability-windows/", "valid_from", window, dates),
        ("ada", "post", "/api/v1/clinicians/{dana}/availability-windows/", "valid_until", window, dates),
        ("ada", "post", "/api/v1/clinicians/{dana}/availability-exceptions/", "date", time_off, dates),
        (
            "ada",
            "put",
            "/api/v1/programs/{program}/measure-schedule/",
            "instruments",
            {"instruments": [{"instrument": "phq9", "at_intake": True, "every_days": 7}]},
            [*WRONG_TYPES, None, *([{"instrument": "phq9", "every_days": v}] for v in FAR_NUMBERS + MALFORMED_NUMBERS)],
        ),
    ]


def _without_nones(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


_LABELS = [f"{method} {url} {field}" for _, method, url, field, _, _ in _body_cases(dict.fromkeys(
    ["other_adult", "program", "dana", "group", "sam", "pat", "ava", "link", "enrollment", "session", "new_guardian"],
    0))]  # fmt: skip


@pytest.mark.parametrize("case", range(len(_LABELS)), ids=_LABELS)
def test_bad_body_values_are_400_and_change_nothing(
    case: int, world: World, client_for: Callable[[User], APIClient], db_snapshot: Callable[[], dict[str, int]]
) -> None:
    w = {**world.ids, "ada": world.ada.pk, "dana": world.dana.pk, "sam": world.sam.pk, "ava": world.ava.pk,
         "pat": world.pat.pk}  # fmt: skip
    who, method, url, field, body, values = _body_cases(w)[case]
    client = client_for(getattr(world, who))
    client.raise_request_exception = False  # a 500 is a failure to list, not to stop at
    failures = []
    for value in values:
        if value is None and field in ("planned_end_date", "ends_on"):
            continue  # these may be null
        payload = {**_without_nones(body), field: value}
        before = db_snapshot()
        response = getattr(client, method)(url.format(**w), payload, format="json")
        changed = db_snapshot() != before
        if response.status_code != 400 or changed or response.json()["error"]["code"] != "invalid":
            failures.append(f"{field}={value!r}: {response.status_code} changed={changed}")
    assert not failures, "\n".join(failures)
    # The body the bad values went into is itself good: they were refused for themselves.
    response = getattr(client, method)(url.format(**w), _without_nones(body), format="json")
    assert response.status_code in (200, 201, 409), response.content[:300]  # 409: valid, but taken
