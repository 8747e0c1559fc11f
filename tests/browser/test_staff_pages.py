"""The clinician's and admin's pages in a real browser (issue 24, items 5 and 7): dana
goes from her home to her program's weekly hours, picks last week, sees it riskiest
first, and overrides an attendance record with a reason (a refused override shows the
API's message and changes nothing); ada's home is the admin links."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from playwright.async_api import expect

from accounts.models import User
from attendance.models import AttendanceRecord, AttendanceStatus, OverrideStatus
from programs.models import Program
from sessions.models import Session
from tests.factories import TEST_PASSWORD, SessionFactory, UserFactory, make_enrollment, make_group, make_program

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROGRAM_ZONE = ZoneInfo("America/New_York")


@database_sync_to_async
def last_weeks_group() -> dict[str, Any]:
    """dana's adolescent program: ava attended 7 hours of last week's session and today's
    group, ben missed both."""
    dana = UserFactory.create(username="dana", first_name="Dana", last_name="Reyes")
    ava = UserFactory.create(username="ava", first_name="Ava", last_name="Lopez", adolescent=True)
    ben = UserFactory.create(username="ben", first_name="Ben", last_name="Cruz", adolescent=True)
    program = make_program(name="Teen IOP", age_band="adolescent", time_zone=PROGRAM_ZONE.key, clinicians=[dana])
    start = timezone.localdate(timezone.now(), PROGRAM_ZONE) - timedelta(days=21)
    for person in (ava, ben):
        make_enrollment(participant=person, program=program, clinician=dana, start_date=start)
    group = make_group(program=program, lead=dana)
    starts_at = timezone.now() - timedelta(days=7)
    last_week = _held(group, dana, [ava, ben], starts_at, 420, "Coping skills group")
    _record(last_week, ava, 420)
    _record(last_week, ben, 0)
    # Today's, ended an hour ago: on dana's home, where she overrides ben's absence.
    today = _held(group, dana, [ava, ben], timezone.now() - timedelta(minutes=150), 90, "Mindfulness group")
    _record(today, ava, 90)
    absent = _record(today, ben, 0)
    return {
        "program": program,
        "session": today,
        "absent": absent,
        "week": _iso_week(starts_at),
        "this_week": _iso_week(timezone.now()),
    }


def _iso_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(PROGRAM_ZONE).isocalendar()
    return f"{year}-W{week:02d}"


def _held(group: Any, host: User, roster: list[User], starts_at: Any, minutes: int, title: str) -> Session:
    ends_at = starts_at + timedelta(minutes=minutes)
    return SessionFactory.create(
        title=title, group=group, hosts=[host], roster=roster, starts_at=starts_at, ends_at=ends_at, ended_at=ends_at
    )


def _record(session: Session, person: User, minutes: int) -> AttendanceRecord:
    status = AttendanceStatus.ATTENDED if minutes else AttendanceStatus.ABSENT
    return AttendanceRecord.objects.create(
        session=session, user=person, attended_seconds=minutes * 60, attended_minutes=minutes, status=status
    )


@database_sync_to_async
def record(pk: int) -> AttendanceRecord:
    return AttendanceRecord.objects.get(pk=pk)


@database_sync_to_async
def records_of(session: Session) -> list[tuple[Any, ...]]:
    return list(
        AttendanceRecord.objects.filter(session=session)
        .order_by("pk")
        .values_list("override_status", "override_minutes", "override_reason")
    )


async def test_dana_sees_last_weeks_hours_riskiest_first_and_overrides_an_absence(people: Any, web_server: str) -> None:
    data = await last_weeks_group()
    program: Program = data["program"]
    session: Session = data["session"]
    dana = await people()
    await dana.sign_in("dana", TEST_PASSWORD)
    await dana.page.get_by_role("link", name="Teen IOP: weekly hours").click()
    await dana.page.wait_for_url(f"{web_server}/programs/{program.pk}/hours/**")
    await expect(dana.page.get_by_role("heading", name="Teen IOP: weekly hours")).to_be_visible()

    # This week by default (the program's zone); "Previous week" goes to the session's week.
    await expect(dana.page.get_by_label("Week", exact=True)).to_have_value(data["this_week"])
    await dana.page.get_by_role("button", name="Previous week").click()
    await expect(dana.page.get_by_label("Week", exact=True)).to_have_value(data["week"])
    await expect(dana.page.locator("#hours-caption")).to_have_text(f"Week {data['week']}, riskiest first")
    rows = dana.page.locator("#hours-rows tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator("th")).to_have_text("Ben Cruz")
    await expect(rows.nth(0)).to_contain_text("Short")
    await expect(rows.nth(1).locator("th")).to_have_text("Ava Lopez")
    await expect(rows.nth(1)).to_contain_text("Met")
    assert f"week={data['week']}" in dana.page.url and "sort=risk" in dana.page.url
    await dana.screenshot("program-hours")

    await dana.page.get_by_role("link", name="Home").click()
    await dana.page.locator(f"#attendance-sessions li[data-session='{session.pk}']").get_by_role("link").click()
    await dana.page.wait_for_url(f"{web_server}/sessions/{session.pk}/attendance/")
    await expect(dana.page.get_by_role("heading", name="Attendance: Mindfulness group")).to_be_visible()
    ava_card = dana.page.locator("li.record", has_text="Ava Lopez")
    ben_card = dana.page.locator("li.record", has_text="Ben Cruz")
    await expect(ben_card.locator(".computed")).to_contain_text("Absent")

    before = await records_of(session)
    # Refused by the API: only an absence can be excused. Its message shows; nothing changes.
    await ava_card.get_by_label("New status").select_option("excused")
    await ava_card.get_by_label("Reason (required)").fill("Left for a dental appointment")
    await ava_card.get_by_role("button", name="Save override").click()
    await expect(ava_card.get_by_role("alert")).to_have_text("New status: Only an absence can be excused.")
    # No reason: the page asks for one before sending anything.
    await ben_card.get_by_label("New status").select_option("excused")
    await ben_card.get_by_role("button", name="Save override").click()
    await expect(ben_card.get_by_role("alert")).to_contain_text("Give a reason")
    assert await records_of(session) == before

    await ben_card.get_by_label("Reason (required)").fill("Family emergency; his mother called ahead")
    await ben_card.get_by_role("button", name="Save override").click()
    ben_card = dana.page.locator("li.record", has_text="Ben Cruz")
    await expect(ben_card.locator(".record-saved")).to_have_text("Override saved.")
    await expect(ben_card.locator(".computed")).to_contain_text("Absent")
    await expect(ben_card.locator(".effective")).to_contain_text("Excused")
    await expect(ben_card).to_contain_text("Counts (override)")
    await expect(ben_card).to_contain_text("Reason: Family emergency; his mother called ahead")
    overridden = await record(data["absent"].pk)
    assert overridden.override_status == OverrideStatus.EXCUSED
    assert overridden.override_reason == "Family emergency; his mother called ahead"
    await dana.screenshot("session-attendance")

    phone = await people(phone=True)
    await phone.sign_in("dana", TEST_PASSWORD)
    await phone.page.goto(f"{web_server}/programs/{program.pk}/hours/?week={data['week']}")
    await expect(phone.page.locator("#hours-rows tr")).to_have_count(2)
    await phone.screenshot("program-hours-phone")
    await phone.page.goto(f"{web_server}/")
    await expect(phone.page.get_by_role("heading", name="My programs")).to_be_visible()
    await expect(phone.page.locator("#attendance-sessions li[data-session]")).to_have_count(1)
    await expect(phone.page.locator("#sessions-status")).to_be_hidden()
    await phone.screenshot("clinician-home-phone")


@database_sync_to_async
def make_ada() -> User:
    return UserFactory.create(username="ada", first_name="Ada", admin=True)


async def test_ada_sees_the_admin_links(people: Any, web_server: str) -> None:
    await make_ada()
    ada = await people()
    await ada.sign_in("ada", TEST_PASSWORD)
    await expect(ada.page.get_by_role("heading", name="Administration")).to_be_visible()
    await expect(ada.page.get_by_role("link", name="Django admin")).to_have_attribute("href", "/admin/")
    await expect(ada.page.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs/")
    await expect(ada.page.get_by_role("link", name="Clinical alerts")).to_have_attribute("href", "/alerts/")
    await expect(ada.page.locator("main a")).to_have_count(3)
    await ada.screenshot("admin-home")
    for path in ("/admin/", "/api/docs/"):
        assert (await ada.page.request.get(f"{web_server}{path}")).status == 200
