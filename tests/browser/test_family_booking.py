"""A guardian's family page in a real browser (issue 24, item 6): pat picks a family slot
shown in her own time zone, books it (one Idempotency-Key per attempt, the same key on a
retry), sees it, cancels it, and is told clearly when it is too late to cancel; two
browsers after one slot give one booking and one "taken" message; a guardian whose ward's
consent leaves out the schedule is told so."""

from __future__ import annotations

import asyncio
import re
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.utils.dateparse import parse_datetime
from playwright.async_api import Route, expect

from accounts.models import ConsentScope, User
from bookings.models import AvailabilityWindow, Booking, BookingPolicy
from tests.factories import (
    TEST_PASSWORD,
    ConsentFactory,
    GuardianLinkFactory,
    UserFactory,
    make_enrollment,
    make_program,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUARDIAN_ZONE = ZoneInfo("America/Los_Angeles")


@database_sync_to_async
def family(*, scopes: list[str] | None = None) -> dict[str, User]:
    """dana (New York) treats ava and takes family sessions 09:00-12:00 every day; pat
    (Los Angeles) is ava's guardian with the given consent (default: the schedule)."""
    ada = UserFactory.create(username="ada", admin=True)
    dana = UserFactory.create(username="dana", first_name="Dana", last_name="Reyes", time_zone="America/New_York")
    ava = UserFactory.create(username="ava", first_name="Ava", adolescent=True)
    pat = UserFactory.create(username="pat", first_name="Pat", guardian=True, time_zone=GUARDIAN_ZONE.key)
    link = GuardianLinkFactory.create(guardian=pat, adolescent=ava, created_by=ada)
    ConsentFactory.create(link=link, scopes=scopes if scopes is not None else [ConsentScope.SCHEDULE])
    make_enrollment(participant=ava, program=make_program(age_band="adolescent", clinicians=[dana]), clinician=dana)
    AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(clinician=dana, weekday=weekday, start_time=time(9), end_time=time(12))
        for weekday in range(1, 8)
    )
    return {"dana": dana, "ava": ava, "pat": pat}


@database_sync_to_async
def live_bookings() -> list[Booking]:
    return list(Booking.objects.filter(cancelled_at__isnull=True).select_related("session"))


@database_sync_to_async
def all_bookings() -> list[Booking]:
    return list(Booking.objects.all())


@database_sync_to_async
def cancellation_cutoff_of(clinician: User, minutes: int) -> None:
    BookingPolicy.objects.create(clinician=clinician, time_zone="America/New_York", cancellation_cutoff_minutes=minutes)


def clock(text: str) -> str:
    # Chromium's en-US times put a narrow no-break space before AM/PM.
    return text.replace("\u202f", " ").replace("\xa0", " ")


def la_time(iso: str) -> str:
    moment = parse_datetime(iso)
    assert moment is not None
    local = moment.astimezone(GUARDIAN_ZONE)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


async def test_pat_books_a_family_slot_sees_it_and_cancels_it(people: Any, web_server: str) -> None:
    cast = await family()
    pat = await people()
    await pat.sign_in("pat", TEST_PASSWORD)
    await pat.page.get_by_role("link", name="Book a family session").click()
    await pat.page.wait_for_url(f"{web_server}/family/")
    await expect(pat.page.get_by_role("heading", name="Book a family session")).to_be_visible()
    await expect(pat.page.get_by_text("Times are shown in your time zone (America/Los_Angeles).")).to_be_visible()
    await expect(pat.page.get_by_label("Clinician")).to_have_text("Dana Reyes (primary clinician)")

    # The last slot offered this week: well past the 24-hour cancellation cut-off.
    last_slot = pat.page.locator(".slot").last
    await expect(last_slot).to_be_visible()
    slot_start = await last_slot.locator("input").get_attribute("value")
    assert slot_start is not None
    # 09:00 in New York is 06:00 in Los Angeles: the label is in pat's own zone.
    assert clock(await last_slot.locator("label").inner_text()).startswith(la_time(slot_start))
    await pat.screenshot("family-slots")

    # The first attempt reaches the server but its answer is lost; "Try again" sends the
    # same attempt with the same Idempotency-Key, and the server books it once.
    keys: list[str] = []

    async def lose_first_answer(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        response = await route.fetch()
        if len(keys) == 1:
            await route.abort("connectionreset")
        else:
            await route.fulfill(response=response)

    await pat.page.route("**/api/v1/bookings/", lose_first_answer)
    await last_slot.locator("label").click()
    await pat.page.get_by_role("button", name="Book this time").click()
    await expect(pat.page.get_by_role("button", name="Try again")).to_be_visible()
    await pat.page.get_by_role("button", name="Try again").click()
    await expect(pat.page.locator("[id^=booking-message-]")).to_contain_text("Booked: a family session on")
    await pat.page.unroute("**/api/v1/bookings/")
    assert len(keys) == 2 and keys[0] == keys[1]
    booked = await live_bookings()
    assert len(booked) == 1
    assert booked[0].participant_id == cast["ava"].pk and booked[0].booked_by_id == cast["pat"].pk
    assert booked[0].session.starts_at == parse_datetime(slot_start)

    item = pat.page.locator("#bookings li[data-status=booked]")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("Family session with Dana Reyes, for ava")
    await expect(pat.page.locator("#family-sessions li")).to_have_count(1)
    await pat.screenshot("family-booked")

    dialogs: list[str] = []

    async def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    pat.page.on("dialog", accept)
    await item.get_by_role("button", name="Cancel booking").click()
    assert dialogs and dialogs[0].startswith("Cancel the family session on")
    await expect(pat.page.locator("#bookings-message")).to_contain_text("Cancelled the family session on")
    await expect(pat.page.locator("#bookings li[data-status=booked]")).to_have_count(0)
    assert await live_bookings() == []

    # Booking with the keyboard alone: Space picks the focused slot, Tab leaves the slots
    # for the button, Enter books. Then, inside the cancellation cut-off, a guardian is
    # told why it cannot be cancelled here, and nothing changes.
    await pat.page.locator(".slot input").first.focus()
    await pat.page.keyboard.press("Space")
    await pat.page.keyboard.press("Tab")
    await expect(pat.page.get_by_role("button", name="Book this time")).to_be_focused()
    await pat.page.keyboard.press("Enter")
    await expect(pat.page.locator("[id^=booking-message-]")).to_contain_text("Booked")
    await cancellation_cutoff_of(cast["dana"], 43200)
    await pat.page.locator("#bookings li[data-status=booked]").get_by_role("button", name="Cancel booking").click()
    await expect(pat.page.locator("#bookings-message")).to_contain_text(
        "Too late to cancel here. Bookings can be cancelled up to"
    )
    await pat.screenshot("family-cancel-too-late")
    assert len(await live_bookings()) == 1


async def test_two_browsers_after_one_slot_get_one_booking_and_one_taken_message(people: Any, web_server: str) -> None:
    await family()
    first, second = await people(), await people(phone=True)
    for window in (first, second):
        await window.sign_in("pat", TEST_PASSWORD)
        await window.page.goto(f"{web_server}/family/")
        await window.page.locator(".slot label").first.click()
    await asyncio.gather(
        first.page.get_by_role("button", name="Book this time").click(),
        second.page.get_by_role("button", name="Book this time").click(),
    )
    messages = [window.page.locator("[id^=booking-message-]") for window in (first, second)]
    for message in messages:
        await expect(message).to_have_text(re.compile("Booked|taken"))
    texts = sorted([await message.inner_text() for message in messages])
    assert texts[0].startswith("Booked: a family session on")
    assert "that time was just taken by someone else" in texts[1]
    assert len(await all_bookings()) == 1
    loser = first if "taken" in await messages[0].inner_text() else second
    await loser.screenshot("family-slot-taken-phone" if loser is second else "family-slot-taken")


async def test_a_guardian_without_schedule_consent_is_told_why_nothing_is_shown(people: Any, web_server: str) -> None:
    await family(scopes=[ConsentScope.HOURS])
    pat = await people()
    await pat.sign_in("pat", TEST_PASSWORD)
    await pat.page.goto(f"{web_server}/family/")
    await expect(pat.page.locator(".no-schedule")).to_contain_text("consent does not include the schedule")
    await expect(pat.page.get_by_text("Weekly hours (")).to_be_visible()
    await expect(pat.page.get_by_role("heading", name="Book a family session")).to_have_count(0)
    await expect(pat.page.locator("#bookings")).to_have_text("No upcoming bookings.")
    await expect(pat.page.locator("#family-sessions")).to_contain_text("No family sessions you can see")
    await pat.screenshot("family-no-schedule-consent")
