"""The clinician's, guardian's and admin's page views (web/pages.py): each role's home,
the pages only some roles may open (others get a 403 page, signed-out visitors the
sign-in page), and the strict CSP on all of them. What the pages show is the API's to
decide (tests/programs/test_people_api.py and the API tests); the browser tests drive them."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CLINICIAN_PAGES = ["/programs/1/hours/", "/sessions/1/attendance/"]
GUARDIAN_PAGES = ["/family/"]


def _browser(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.mark.parametrize("path", CLINICIAN_PAGES + GUARDIAN_PAGES)
def test_signed_out_visitors_go_to_the_sign_in_page(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/signin/?next={path}"


@pytest.mark.parametrize("path", CLINICIAN_PAGES)
def test_clinician_pages_open_for_clinicians_and_admins_only(
    path: str, dana: User, ada: User, ava: User, pat: User
) -> None:
    for user in (dana, ada):
        response = _browser(user).get(path)
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
    for user in (ava, pat):
        response = _browser(user).get(path)
        assert response.status_code == 403
        assert "This page is not for your account" in response.content.decode()
        assert "clinicians and admins" in response.content.decode()


def test_the_family_page_opens_for_guardians_only(dana: User, ada: User, ava: User, pat: User) -> None:
    response = _browser(pat).get("/family/")
    assert response.status_code == 200
    assert "web/js/guardian.js" in response.content.decode()
    for user in (dana, ada, ava):
        assert _browser(user).get("/family/").status_code == 403


def test_each_role_has_its_home(dana: User, ada: User, ava: User, pat: User) -> None:
    homes = {user.username: _browser(user).get("/").content.decode() for user in (dana, ada, ava, pat)}
    assert "My programs" in homes["dana"] and "web/js/clinician.js" in homes["dana"]
    assert 'href="/family/"' in homes["pat"]
    assert 'href="/admin/"' in homes["ada"] and 'href="/api/docs/"' in homes["ada"]
    assert "My sessions this week" not in homes["ada"]  # links only
    assert "My sessions this week" in homes["ava"]
    assert all("My programs" not in homes[name] for name in ("ada", "ava", "pat"))
    assert all('href="/family/"' not in homes[name] for name in ("ada", "ava", "dana"))


def test_an_inactive_account_is_signed_out() -> None:
    gone = UserFactory.create(guardian=True, is_active=False)
    browser = Client()
    browser.force_login(gone)
    assert browser.get("/family/").status_code == 302
