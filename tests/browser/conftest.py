"""Browser tests: Playwright drives the system's Chromium (Debian's `chromium`; Playwright's
own browser download is not used) against a real Daphne process on the test database.

Without Chromium these tests are skipped with one line, unless REQUIRE_BROWSER=1 (CI),
where a missing browser fails them. Screenshots go to test-artifacts/web/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.processes import BASE_DIR, daphne, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = BASE_DIR / "test-artifacts" / "web"
# Chromium's fake camera and microphone, granted without a prompt.
CHROMIUM_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
# Short room timers so a dropped socket shows within seconds; staff sign in with the
# password alone (demo mode), as under `make run`.
SERVER_ENV = {
    "DEMO": "1",
    "STAFF_REQUIRE_2FA": "0",
    "ROOM_HEARTBEAT_SECONDS": "0.5",
    "ROOM_SWEEP_SECONDS": "0.5",
    "ROOM_PRESENCE_TIMEOUT_SECONDS": "3",
}
# What the server and the page take at most for one step (never a timing assertion: a
# step that takes longer fails as broken).
STEP_MS = 10_000


NO_BROWSER = "browser tests (tests/browser/) skipped: no `chromium` on this machine (apt-get install chromium)"


def _skipping() -> bool:
    return not CHROMIUM and os.environ.get("REQUIRE_BROWSER") != "1"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without Chromium the browser tests are not collected, and one line says so."""
    if _skipping() and collection_path.name.startswith("test_"):
        return True
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipping():
        terminalreporter.write_line(NO_BROWSER)


@pytest.fixture(autouse=True)
def _chromium_installed() -> None:
    if not CHROMIUM:  # only with REQUIRE_BROWSER=1 (CI): a missing browser fails
        pytest.fail("REQUIRE_BROWSER=1 but no `chromium` is installed", pytrace=False)


@pytest.fixture
def web_server(transactional_db: None) -> Iterator[str]:
    """The base URL of a real Daphne process serving the project (pages, API, sockets)."""
    port = free_port()
    with daphne(port, SERVER_ENV):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Person:
    """One person's browser window: its own cookies, and what went wrong on its pages
    (script errors, Content-Security-Policy refusals)."""

    def __init__(self, context: BrowserContext, page: Page, base: str) -> None:
        self.context = context
        self.page = page
        self.base = base
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)
        page.set_default_timeout(STEP_MS)
        expect.set_options(timeout=STEP_MS)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Uncaught" in text):
            self.problems.append(text)

    async def sign_in(self, username: str, password: str) -> None:
        await self.page.goto(f"{self.base}/signin/")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page).to_have_url(f"{self.base}/")

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def people(browser: Browser, web_server: str) -> AsyncIterator[Any]:
    """``await people()`` opens a new person's window on the server (phone-sized with
    ``phone=True``); all close at the end, and none may have had a script error or a CSP
    refusal."""
    opened: list[Person] = []

    async def open_person(*, phone: bool = False) -> Person:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 860}
        context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        person = Person(context, await context.new_page(), web_server)
        opened.append(person)
        return person

    yield open_person
    problems = [problem for person in opened for problem in person.problems]
    for person in opened:
        await person.context.close()
    assert problems == []
