"""Questionnaires in a real browser (issue 26): ava's home says a questionnaire is ready
(and her feed links to it); she answers her PHQ-A, every item by its labelled radio, after
the page refused a send with items open; she sees her score and severity and, as her
item-9 answer is above 0, the crisis resources. dana's home counts the open alert, her
feed links to the alerts page, where a note is required before she acknowledges it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from playwright.async_api import expect

from measures import services as measures
from measures.models import Assessment, ClinicalAlert
from tests.factories import TEST_PASSWORD, UserFactory, make_enrollment, make_program
from tests.measures.support import schedule, seed_instruments

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROGRAM_ZONE = ZoneInfo("America/New_York")
NOTE = "Called Ava and her mother; safety plan reviewed, seen tomorrow"


@database_sync_to_async
def ava_with_a_phq_a_due() -> None:
    """dana's adolescent program gives the PHQ-A weekly from intake; ava joined 3 weeks ago
    and has been told it is ready (the beat's sweep, run here)."""
    seed_instruments()
    dana = UserFactory.create(username="dana", first_name="Dana", last_name="Reyes")
    ava = UserFactory.create(username="ava", first_name="Ava", last_name="Lopez", adolescent=True)
    program = make_program(name="Teen IOP", age_band="adolescent", time_zone=PROGRAM_ZONE.key, clinicians=[dana])
    schedule(program, "phqa")
    start = timezone.localdate(timezone.now(), PROGRAM_ZONE) - timedelta(days=21)
    make_enrollment(participant=ava, program=program, clinician=dana, start_date=start)
    assert measures.notify_due_questionnaires() == 1


@database_sync_to_async
def stored() -> tuple[list[Assessment], list[ClinicalAlert]]:
    assessments = list(Assessment.objects.select_related("instrument"))
    alerts = list(ClinicalAlert.objects.select_related("acknowledged_by"))
    return assessments, alerts


async def test_ava_answers_her_phq_a_and_dana_acknowledges_the_alert(people: Any, web_server: str) -> None:
    await ava_with_a_phq_a_due()
    ava = await people()
    await ava.sign_in("ava", TEST_PASSWORD)
    card = ava.page.locator("#questionnaire-card")
    await expect(card.get_by_role("heading", name="A questionnaire is ready")).to_be_visible()
    await expect(card).to_contain_text("PHQ-A")
    await expect(ava.page.locator("#notifications-list").get_by_role("link")).to_have_attribute(
        "href", "/questionnaires/"
    )
    await card.get_by_role("link", name="Answer the questionnaire").click()
    await ava.page.wait_for_url(f"{web_server}/questionnaires/")
    form = ava.page.get_by_role("form", name="PHQ-A")
    await expect(form.get_by_role("group")).to_have_count(9)

    # Sent with items open: the page says which, focuses the first, and sends nothing.
    await form.get_by_role("group", name="1. Feeling down").get_by_label("Several days").check()
    await form.get_by_role("button", name="Send my answers").click()
    await expect(form.get_by_role("alert")).to_have_text(
        "Answer every question: questions 2, 3, 4, 5, 6, 7, 8, 9 are still open."
    )
    await expect(form.get_by_role("group", name="2. Little interest").get_by_label("Not at all")).to_be_focused()
    assert await stored() == ([], [])

    items = form.get_by_role("group")
    for index in range(1, 8):
        await items.nth(index).get_by_label("Several days").check()
    await (
        form.get_by_role("group", name="9. Thoughts that you would be better off dead")
        .get_by_label("Several days")
        .check()
    )
    await expect(form.get_by_role("alert")).to_be_hidden()  # nothing left open
    await ava.screenshot("questionnaire-filled")
    await form.get_by_role("button", name="Send my answers").click()

    result = ava.page.locator("section.questionnaire.done")
    await expect(result.get_by_role("heading", name="PHQ-A: thank you")).to_be_focused()
    await expect(result.locator(".score")).to_have_text("Your score: 9 of 27 Mild")
    crisis = result.get_by_role("alert")
    await expect(crisis).to_contain_text("Help is available now")
    await expect(crisis).to_contain_text(settings.CRISIS_RESOURCES_TEXT)
    await ava.screenshot("questionnaire-result")
    (assessment,), (alert,) = await stored()
    assert (assessment.instrument.code, assessment.answers, assessment.score, assessment.risk) == (
        "phqa", [1] * 9, 9, True,
    )  # fmt: skip
    assert alert.acknowledged_at is None

    # Answered: home no longer says one is ready, the page says none is due.
    await ava.page.goto(f"{web_server}/")
    await expect(ava.page.locator("#sessions-status")).to_be_visible()
    await expect(card).to_be_hidden()
    await ava.page.goto(f"{web_server}/questionnaires/")
    await expect(ava.page.locator("#questionnaires")).to_contain_text("No questionnaire is due now.")

    dana = await people()
    await dana.sign_in("dana", TEST_PASSWORD)
    await expect(dana.page.locator("#alerts-summary")).to_have_text("1 open: acknowledge each with a note.")
    feed_link = dana.page.locator("#notifications-list").get_by_role("link")
    await expect(feed_link).to_have_attribute("href", "/alerts/")
    await feed_link.click()
    await dana.page.wait_for_url(f"{web_server}/alerts/")
    alert_card = dana.page.locator(f"li[data-alert='{alert.pk}']")
    await expect(alert_card.get_by_role("heading", name="Ava Lopez")).to_be_visible()
    await expect(alert_card).to_contain_text("PHQ-A")
    await expect(alert_card).to_contain_text("Not yet")  # not escalated to admins

    # No note: the page asks for one and sends nothing.
    await alert_card.get_by_role("button", name="Acknowledge").click()
    await expect(alert_card.get_by_role("alert")).to_have_text("Write what was done: an acknowledgement needs a note.")
    await expect(alert_card.get_by_label("Note (required): what was done")).to_be_focused()
    await dana.screenshot("alerts-open")
    assert (await stored())[1][0].acknowledged_at is None

    await alert_card.get_by_label("Note (required): what was done").fill(NOTE)
    await alert_card.get_by_role("button", name="Acknowledge").click()
    await expect(alert_card.locator(".message.success")).to_contain_text(f"Note: {NOTE}")
    await dana.screenshot("alerts-acknowledged")
    (acknowledged,) = (await stored())[1]
    assert acknowledged.acknowledged_at is not None
    assert (acknowledged.note, acknowledged.acknowledged_by.username) == (NOTE, "dana")

    await dana.page.reload()
    await expect(dana.page.locator("#alerts")).to_have_text("No open alerts.")
