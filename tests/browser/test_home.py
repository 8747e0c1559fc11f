"""The participant's home in a real browser: this week's session with Join when open, the
week's hours, and a notification arriving live from the feed socket (read out through the
page's live region)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from playwright.async_api import expect

from accounts.models import User
from notifications import services as notifications
from tests.browser.rooms import group_room
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@database_sync_to_async
def notify(user: User) -> None:
    with transaction.atomic():
        notifications.notify(recipient=user, kind="session_opening", data={"time": "17:00", "link": "/sessions/1"})


async def test_ava_sees_her_week_and_a_notification_arrives_live(people: Any, web_server: str) -> None:
    room = await group_room()
    ava = await people(phone=True)
    await ava.sign_in("ava", TEST_PASSWORD)
    session = ava.page.locator(f'[data-session="{room.session.pk}"]')
    await expect(session).to_contain_text("Coping skills group")
    await expect(session.get_by_role("link", name="Join: Coping skills group")).to_have_attribute(
        "href", f"/sessions/{room.session.pk}/"
    )
    await expect(ava.page.locator("#hours")).to_contain_text("attended")
    await expect(ava.page.locator("#feed-status")).to_have_text("Nothing new.")
    # The feed socket is open once the status line no longer says it is connecting.
    await ava.page.wait_for_function("() => !document.querySelector('#feed-status').textContent.includes('Connect')")

    await notify(room.ava)
    item = ava.page.locator("#notifications-list li")
    await expect(item).to_have_count(1)
    await expect(item).to_have_class("notification fresh")
    await expect(ava.page.locator("#announcer")).to_contain_text("New notification")
    await ava.screenshot("participant-home-notification")


async def test_the_admin_and_api_docs_still_load_under_the_policy(people: Any, web_server: str) -> None:
    visitor = await people()
    await visitor.page.goto(f"{web_server}/admin/login/")
    await expect(visitor.page.get_by_label("Username")).to_be_visible()
    docs = await visitor.page.goto(f"{web_server}/api/docs/")
    assert docs is not None and docs.status == 200
    await expect(visitor.page.locator(".swagger-ui")).to_be_visible()
