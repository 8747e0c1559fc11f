"""The questionnaire page (participants) and the alerts page (clinicians and admins): who
may open them, the sign-in redirect, the strict CSP, and the participant home's "a
questionnaire is ready" card and the staff homes' links to the alerts. What they show is the
API's (tests/measures/); tests/browser/test_questionnaires.py drives them."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


def _browser(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.mark.parametrize("path", ["/questionnaires/", "/alerts/"])
def test_signed_out_visitors_go_to_the_sign_in_page(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"] == f"/signin/?next={path}"


def test_the_questionnaire_page_is_for_participants(ava: User, sam: User, dana: User, ada: User, pat: User) -> None:
    for person in (ava, sam):
        response = _browser(person).get("/questionnaires/")
        assert response.status_code == 200
        assert "web/js/questionnaire.js" in response.content.decode()
        assert "script-src 'self'" in response["Content-Security-Policy"]
    for person in (dana, ada, pat):
        response = _browser(person).get("/questionnaires/")
        assert response.status_code == 403 and "It is for participants." in response.content.decode()


def test_the_alerts_page_is_for_clinicians_and_admins(ava: User, dana: User, ada: User, pat: User) -> None:
    for person in (dana, ada):
        response = _browser(person).get("/alerts/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "web/js/alerts.js" in page and "after 30 minutes" in page  # CLINICAL_ALERT_ESCALATE_MINUTES
        assert "script-src 'self'" in response["Content-Security-Policy"]
    for person in (ava, pat):
        response = _browser(person).get("/alerts/")
        assert response.status_code == 403 and "clinicians and admins" in response.content.decode()


def test_the_homes_lead_to_the_pages(ava: User, dana: User, ada: User, pat: User) -> None:
    homes = {person.username: _browser(person).get("/").content.decode() for person in (ava, dana, ada, pat)}
    assert 'id="questionnaire-card"' in homes["ava"] and 'href="/questionnaires/"' in homes["ava"]
    assert all('href="/questionnaires/"' not in homes[name] for name in ("dana", "ada", "pat"))
    assert 'href="/alerts/"' in homes["dana"] and 'href="/alerts/"' in homes["ada"]
    assert all('href="/alerts/"' not in homes[name] for name in ("ava", "pat"))
