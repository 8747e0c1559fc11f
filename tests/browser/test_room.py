"""The live room in real browsers, each test as the people would use it: ava waits, dana
admits her, they chat, ava's connection drops and she is back with every line once; a
chat line with a script shows as text; dana mutes, removes, opens and closes breakouts and
ends the session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.rooms import group_room
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def chat_lines(page: Page) -> Any:
    return page.locator("#chat-log .chat-text")


async def send_chat(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_ava_waits_is_admitted_chats_and_comes_back_after_a_drop_with_every_line_once(
    people: Any, web_server: str
) -> None:
    room = await group_room(checkin_required=True)
    room_url = f"{web_server}/sessions/{room.session.pk}/"
    dana, ava = await people(), await people(phone=True)
    await dana.sign_in("dana", TEST_PASSWORD)
    await dana.page.goto(room_url)
    await expect(dana.page.get_by_role("heading", name="Host controls")).to_be_visible()

    await ava.sign_in("ava", TEST_PASSWORD)
    await expect(ava.page.get_by_role("link", name="Join: Coping skills group")).to_be_visible()
    await ava.screenshot("participant-home")
    await ava.page.get_by_role("link", name="Join: Coping skills group").click()
    await expect(ava.page.get_by_text("The host will let you in.")).to_be_visible()
    await expect(ava.page.get_by_text("The host is here.")).to_be_visible()
    await ava.screenshot("waiting-room")

    # Her program asks for the safety check-in first: dana cannot admit her before it.
    await expect(dana.page.locator("#waiting-list")).to_contain_text("(not checked in)")
    await dana.page.get_by_role("button", name="Admit Ava").click()
    await expect(dana.page.locator("#room-error")).to_contain_text("has not checked in")
    checkin = ava.page.locator("#checkin-form")
    await checkin.get_by_label("State or region where you are now").fill("Illinois")
    await checkin.get_by_label("Emergency contact's name").fill("Pat")
    await checkin.get_by_label("Their relation to you").fill("parent")
    await checkin.get_by_label("Their phone number").fill("not a number")
    await checkin.get_by_role("button", name="Check in").click()
    await expect(ava.page.locator("#checkin-error")).to_have_text("Enter a valid phone number.")
    await checkin.get_by_label("Their phone number").fill("+1 312 555 0134")
    await checkin.get_by_role("button", name="Check in").click()
    await expect(ava.page.locator("#checkin-done")).to_contain_text("you have checked in")
    await expect(dana.page.locator("#waiting-list")).to_contain_text("(checked in: Illinois, US)")

    await dana.page.get_by_role("button", name="Admit Ava").click()
    await expect(ava.page.get_by_role("heading", name="Chat")).to_be_visible()
    await expect(ava.page.locator("#people")).to_contain_text("Dana")

    await send_chat(ava.page, "hello from ava")
    await expect(chat_lines(dana.page)).to_have_text(["hello from ava"])
    await send_chat(dana.page, "hi ava, welcome")
    await expect(chat_lines(ava.page)).to_have_text(["hello from ava", "hi ava, welcome"])

    # The network drops: her socket goes, and her new ticket is held back until dana has
    # posted two lines and ava has typed one, so all three fall in the gap.
    held = asyncio.Event()

    async def hold_ticket(route: Route) -> None:
        await held.wait()
        await route.continue_()

    await ava.page.route("**/api/v1/realtime/ticket/", hold_ticket)
    await ava.page.evaluate("window.iopRoom.dropConnection()")
    await expect(ava.page.locator("#connection")).to_have_text("Reconnecting…")
    await ava.screenshot("room-reconnecting")
    await send_chat(dana.page, "line one while you were away")
    await send_chat(dana.page, "line two while you were away")
    await send_chat(ava.page, "typed while offline")
    await expect(chat_lines(dana.page)).to_have_count(4)
    held.set()
    await expect(ava.page.locator("#connection")).to_have_text("Connected")
    expected = [
        "hello from ava",
        "hi ava, welcome",
        "line one while you were away",
        "line two while you were away",
        "typed while offline",
    ]
    await expect(chat_lines(ava.page)).to_have_text(expected)
    await expect(chat_lines(dana.page)).to_have_text(expected)
    await ava.page.unroute("**/api/v1/realtime/ticket/")

    # A line with markup and a script is shown as its text and runs nothing.
    attack = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold?</b>'
    await send_chat(dana.page, attack)
    await expect(chat_lines(ava.page).last).to_have_text(attack)
    assert await ava.page.evaluate("window.pwned === undefined")
    assert await ava.page.locator("#chat-log img, #chat-log script, #chat-log b").count() == 0

    await ava.page.get_by_role("button", name="Raise hand").click()
    await expect(dana.page.locator(f'#people [data-person="{room.ava.pk}"] [data-hand]')).to_be_visible()
    await expect(ava.page.get_by_role("button", name="Lower hand")).to_be_visible()
    await ava.screenshot("room-participant")
    await dana.screenshot("room-host")
    await ava.page.get_by_role("button", name="Lower hand").click()
    await expect(dana.page.locator("#people [data-hand]")).to_have_count(0)

    # Reloading the page brings the history back once.
    await ava.page.reload()
    await expect(chat_lines(ava.page)).to_have_text([*expected, attack])


async def test_dana_mutes_removes_runs_breakouts_and_ends_the_session(people: Any, web_server: str) -> None:
    room = await group_room(admit_directly=True)
    room_url = f"{web_server}/sessions/{room.session.pk}/"
    dana, ava, ben = await people(), await people(), await people()
    for person, name in ((dana, "dana"), (ava, "ava"), (ben, "ben")):
        await person.sign_in(name, TEST_PASSWORD)
        await person.page.goto(room_url)
    await expect(dana.page.locator("#people li")).to_have_count(3)

    await dana.page.get_by_role("button", name="Mute Ava").click()
    await expect(ava.page.get_by_role("button", name="Microphone off")).to_be_visible()
    await expect(ben.page.locator(f'#people [data-person="{room.ava.pk}"]')).to_contain_text("muted")

    # Remove asks first; cancelling removes no one.
    await dana.page.get_by_role("button", name="Remove Ben").click()
    await expect(dana.page.get_by_text("Remove Ben from this session?")).to_be_visible()
    await dana.page.get_by_role("button", name="Cancel").click()
    await expect(dana.page.locator("#people li")).to_have_count(3)
    await dana.page.get_by_role("button", name="Remove Ben").click()
    await dana.page.locator("#confirm-ok").click()
    await expect(ben.page.locator("#over-text")).to_have_text("A host removed you from this session.")
    await expect(dana.page.locator("#people li")).to_have_count(2)

    await dana.page.get_by_label("Ava", exact=True).select_option("1")
    await dana.page.get_by_role("button", name="Open breakouts").click()
    await expect(ava.page.locator("#chat-where")).to_have_text("(breakout room 1)")
    await expect(dana.page.get_by_role("button", name="Close breakouts")).to_be_visible()
    await dana.screenshot("room-host-breakouts")
    await send_chat(ava.page, "in the breakout")
    await expect(chat_lines(dana.page)).to_have_text(["in the breakout"])
    await dana.page.get_by_role("button", name="Close breakouts").click()
    await expect(ava.page.locator("#chat-where")).to_have_text("")

    await dana.page.get_by_role("button", name="End session").click()
    await dana.page.locator("#confirm-ok").click()
    await expect(ava.page.locator("#over-text")).to_have_text("The host ended the session.")
    await ava.screenshot("room-ended")
