"""Mesh video in real browsers: dana and ava, each with Chromium's fake camera and
microphone, connect over loopback through the room's signaling, and each shows the other's
video. Camera and microphone toggle off and on."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.rooms import individual_room
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The bound for two browsers to show each other's video.
VIDEO_MS = 10_000


async def wait_for_video_of(page: Page, user_id: int) -> None:
    await page.wait_for_function(
        """(id) => {
            const video = document.querySelector(`[data-tile="${id}"] video`);
            return Boolean(video && video.videoWidth > 0 && video.videoHeight > 0);
        }""",
        arg=user_id,
        timeout=VIDEO_MS,
    )


async def test_two_browsers_show_each_others_video_over_loopback(people: Any, web_server: str) -> None:
    room = await individual_room()
    room_url = f"{web_server}/sessions/{room.session.pk}/"
    dana, ava = await people(), await people()
    await dana.sign_in("dana", TEST_PASSWORD)
    await dana.page.goto(room_url)
    await expect(dana.page.locator("#connection")).to_have_text("Connected")
    await ava.sign_in("ava", TEST_PASSWORD)
    await ava.page.goto(room_url)

    await wait_for_video_of(ava.page, room.dana.pk)
    await wait_for_video_of(dana.page, room.ava.pk)
    await expect(dana.page.locator(f'[data-tile="{room.ava.pk}"] figcaption')).to_have_text("Ava")
    await ava.screenshot("room-video")

    # Camera and microphone off: her own tracks stop sending (the button says so).
    await ava.page.get_by_role("button", name="Camera on").click()
    await ava.page.get_by_role("button", name="Microphone on").click()
    await expect(ava.page.get_by_role("button", name="Camera off")).to_have_attribute("aria-pressed", "false")
    await expect(ava.page.get_by_role("button", name="Microphone off")).to_be_visible()
    enabled = await ava.page.evaluate(
        "(id) => document.querySelector(`[data-tile='${id}'] video`).srcObject.getTracks().map((t) => t.enabled)",
        room.ava.pk,
    )
    assert enabled == [False, False]
    await ava.page.get_by_role("button", name="Camera off").click()
    await expect(ava.page.get_by_role("button", name="Camera on")).to_be_visible()
