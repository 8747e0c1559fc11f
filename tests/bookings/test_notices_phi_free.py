"""What booking, rescheduling and cancelling send is PHI-free (the existing pattern,
tests/notifications/test_phi_free.py): no title, kind, program or clinical term, only a
local date and time and a link; a group session cancelled directly tells its people too."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.models import User
from bookings import services
from notifications.kinds import render
from notifications.models import Notification
from sessions import services as session_services
from tests.bookings.booking_support import THURSDAY, WEDNESDAY, World, frozen, make_world, ny
from tests.factories import make_group, make_program, make_session
from tests.notifications.test_phi_free import FORBIDDEN_TERMS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    yield from frozen()


@pytest.fixture
def world(dana: User, ava: User, sam: User, pat: User, ada: User) -> World:
    return make_world(dana=dana, ava=ava, sam=sam, pat=pat, ada=ada)


def assert_phi_free(notification: Notification, *extra_terms: str) -> None:
    rendered = render(notification.kind, notification.data)
    texts = [notification.title, notification.body, rendered.email_subject, rendered.email_body]
    for text in texts:
        lowered = text.lower()
        for term in [*FORBIDDEN_TERMS, *extra_terms]:
            assert not re.search(rf"\b{re.escape(term)}", lowered), f"{term!r} in {text!r}"
    assert set(notification.data) <= {"date", "time", "link"}


def test_every_booking_notice_is_phi_free(world: World, django_capture_on_commit_callbacks: Callable[..., Any]) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.book_family_session(
            by=world.pat, clinician=world.dana, participant=world.ava, slot_start=ny(WEDNESDAY, 10)
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule_booking(by=world.pat, booking=booking, slot_start=ny(THURSDAY, 14))
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_booking(by=world.dana, booking=booking, reason="Relapse risk discussed")
    notifications = list(Notification.objects.all())
    assert {n.kind for n in notifications} == {"booking_confirmed", "session_cancelled"}
    for notification in notifications:
        assert_phi_free(notification, "family", "reason", "relapse risk")


def test_a_cancelled_group_session_tells_its_roster_and_co_hosts_phi_free(
    world: World, theo: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    group = make_group(program=make_program(age_band="adult"), lead=world.dana, co=[theo], members=[world.sam])
    session = make_session(group=group, hosts=[world.dana, theo], roster=[world.sam], title="Opioid relapse group")
    with django_capture_on_commit_callbacks(execute=True):
        session_services.cancel_session(by=world.dana, session=session)
    told = Notification.objects.filter(kind="session_cancelled")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["sam", "theo"]
    for notification in told:
        assert_phi_free(notification, "opioid relapse group", "group")
