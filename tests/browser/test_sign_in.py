"""Signing in and out in a real browser: the session cookie is HttpOnly and SameSite=Lax,
no token reaches script-readable storage, and every page carries the strict CSP."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from playwright.async_api import expect

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@database_sync_to_async
def make_ava() -> None:
    UserFactory.create(username="ava", first_name="Ava", adolescent=True)


async def test_ava_signs_in_and_out_with_a_session_cookie(people: Any, web_server: str) -> None:
    await make_ava()
    ava = await people()
    await ava.page.goto(f"{web_server}/")
    await expect(ava.page).to_have_url(f"{web_server}/signin/?next=/")
    await ava.screenshot("signin")

    # By keyboard alone: the first Tab reaches the skip link, focus is visible on each field.
    await ava.page.keyboard.press("Tab")
    await expect(ava.page.get_by_role("link", name="Skip to content")).to_be_focused()
    await ava.page.get_by_label("Username").focus()
    await ava.page.keyboard.type("ava")
    outline = await ava.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    await ava.page.keyboard.press("Tab")
    await expect(ava.page.get_by_label("Password")).to_be_focused()
    await ava.page.keyboard.type("not her password")
    await ava.page.keyboard.press("Enter")
    await expect(ava.page.get_by_role("alert")).to_have_text("Wrong username or password.")

    await ava.sign_in("ava", TEST_PASSWORD)
    await expect(ava.page.get_by_role("heading", name="Hello, Ava")).to_be_visible()
    await expect(ava.page.locator("#sessions-status")).to_have_text("No sessions this week.")

    cookies = {cookie["name"]: cookie for cookie in await ava.context.cookies()}
    assert cookies["sessionid"]["httpOnly"] is True
    assert cookies["sessionid"]["sameSite"] == "Lax"
    # Nothing the page's scripts can read holds a credential.
    assert "sessionid" not in await ava.page.evaluate("document.cookie")
    stored = await ava.page.evaluate("JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])")
    assert stored == "[[],[]]"
    home = await ava.page.request.get(f"{web_server}/")
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]

    await ava.page.get_by_role("button", name="Sign out").click()
    await expect(ava.page).to_have_url(f"{web_server}/signin/")
    me = await ava.page.request.get(f"{web_server}/api/v1/me/")
    assert me.status == 401
