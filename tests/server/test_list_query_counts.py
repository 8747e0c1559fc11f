"""Every list endpoint costs a fixed number of queries, whatever the number of items.

Each case adds a few items the viewer may see, reads the list, adds more and reads it
again: both reads must cost exactly the pinned count. A per-item query (an N+1) makes the
second read dearer; a new per-request query changes both. The counts include two for the
bearer token (knox looks it up, then reads the user's tokens to sweep expired ones);
throttles count in Redis, not the database. The calendar feed's token is in its URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any, TypeVar

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from bookings.models import AvailabilityException, AvailabilityWindow
from groups.models import GroupMembership
from notifications.kinds import NotificationKind
from notifications.models import Delivery, DeliveryStatus, Notification
from programs.models import CareTransition, LevelOfCare
from sessions.models import RecurringSchedule, SessionKind
from sessions.services import create_calendar_feed
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    GuardianLinkFactory,
    ProgramFactory,
    SessionFactory,
    TherapyGroupFactory,
    UserFactory,
    level_of_care,
)

pytestmark = pytest.mark.django_db

FEW = 2
MORE = 4

Built = TypeVar("Built")


class World:
    """The personas a case asks for, and the things its items hang on (one group for its
    members, one enrollment for its transitions), each built once."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._built: dict[str, Any] = {}

    def persona(self, name: str) -> User:
        return self._request.getfixturevalue(name)

    def once(self, key: str, build: Callable[[], Built]) -> Built:
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]


# Each adds ``count`` items the viewer may see and returns the list's URL.
Adder = Callable[[World, User, int], str]


def users(world: World, viewer: User, count: int) -> str:
    UserFactory.create_batch(count, adult=True)
    return "/api/v1/users/"


def guardian_links(world: World, viewer: User, count: int) -> str:
    if viewer.role == "guardian":
        GuardianLinkFactory.create_batch(count, guardian=viewer, created_by=world.persona("ada"))
    else:
        GuardianLinkFactory.create_batch(count, created_by=world.persona("ada"))
    return "/api/v1/guardian-links/"


def consents(world: World, viewer: User, count: int) -> str:
    if viewer.role == "participant":
        ConsentFactory.create_batch(count, link__adolescent=viewer, link__created_by=world.persona("ada"))
    else:
        ConsentFactory.create_batch(count, link__created_by=world.persona("ada"))
    return "/api/v1/consents/"


def levels_of_care(world: World, viewer: User, count: int) -> str:
    level_of_care()  # the three seeded ones first
    first = LevelOfCare.objects.count()
    for rank in range(first + 1, first + count + 1):
        LevelOfCare.objects.create(
            code=f"L{rank}",
            name=f"Level {rank}",
            asam_level="2.1",
            adult_min_weekly_minutes=540,
            adolescent_min_weekly_minutes=360,
            rank=rank,
        )
    return "/api/v1/levels-of-care/"


def programs(world: World, viewer: User, count: int) -> str:
    ProgramFactory.create_batch(count, clinicians=[world.persona("dana"), world.persona("theo")])
    return "/api/v1/programs/"


def enrollments(world: World, viewer: User, count: int) -> str:
    dana = world.persona("dana")
    for enrollment in EnrollmentFactory.create_batch(count, primary_clinician=dana):
        # A step down, so each enrollment's level of care today comes from its transition.
        CareTransition.objects.create(
            enrollment=enrollment,
            from_level=level_of_care("IOP"),
            to_level=level_of_care("OP"),
            effective_date=enrollment.start_date + timedelta(days=1),
            reason="Stable for two weeks",
            clinician=dana,
        )
    return "/api/v1/enrollments/"


def transitions(world: World, viewer: User, count: int) -> str:
    dana = world.persona("dana")
    enrollment = world.once("enrollment", lambda: EnrollmentFactory.create(primary_clinician=dana))
    done = enrollment.transitions.count()
    levels = [level_of_care("IOP"), level_of_care("OP")]
    for step in range(done, done + count):
        CareTransition.objects.create(
            enrollment=enrollment,
            from_level=levels[step % 2],
            to_level=levels[(step + 1) % 2],
            effective_date=enrollment.start_date + timedelta(days=step + 1),
            reason="Weekly review",
            clinician=dana,
        )
    return f"/api/v1/enrollments/{enrollment.pk}/transitions/"


def groups(world: World, viewer: User, count: int) -> str:
    for _ in range(count):
        TherapyGroupFactory.create(
            lead_facilitator=world.persona("dana"),
            co_facilitators=[world.persona("theo")],
            members=UserFactory.create_batch(2, adult=True),
        )
    return "/api/v1/groups/"


def group_members(world: World, viewer: User, count: int) -> str:
    group = world.once("group", lambda: TherapyGroupFactory.create(lead_facilitator=world.persona("dana")))
    GroupMembership.objects.bulk_create(
        GroupMembership(group=group, participant=person) for person in UserFactory.create_batch(count, adult=True)
    )
    return f"/api/v1/groups/{group.pk}/members/"


def _family_sessions(world: World, count: int) -> None:
    """Family sessions dana hosts for ava and pat: seen by ada, dana, ava and pat alike."""
    for index in range(count):
        SessionFactory.create(
            kind=SessionKind.FAMILY,
            title="Family therapy",
            hosts=[world.persona("dana")],
            roster=[world.persona("ava")],
            guardians=[world.persona("pat")],
            starts_in=timedelta(days=1 + index, hours=index),
        )


def sessions(world: World, viewer: User, count: int) -> str:
    _family_sessions(world, count)
    return "/api/v1/sessions/"


def calendar_feed(world: World, viewer: User, count: int) -> str:
    _family_sessions(world, count)
    token = world.once("feed", lambda: create_calendar_feed(user=viewer))
    return f"/calendar/{token}.ics"


def schedules(world: World, viewer: User, count: int) -> str:
    RecurringSchedule.objects.bulk_create(
        RecurringSchedule(
            kind="group",
            title="Relapse prevention process group",
            group=TherapyGroupFactory.create(lead_facilitator=world.persona("dana")),
            weekdays=[1, 3, 4],
            start_time=time(17),
            duration_minutes=90,
            time_zone="America/New_York",
            starts_on=timezone.localdate(),
            created_by=viewer,
        )
        for _ in range(count)
    )
    return "/api/v1/schedules/"


def _notifications_for(recipient: User, count: int) -> list[Notification]:
    return Notification.objects.bulk_create(
        Notification(
            recipient=recipient,
            kind=NotificationKind.SESSION_REMINDER,
            title="Session reminder",
            body="You have a session at 17:00.",
        )
        for _ in range(count)
    )


def notifications(world: World, viewer: User, count: int) -> str:
    _notifications_for(viewer, count)
    return "/api/v1/notifications/"


def failed_deliveries(world: World, viewer: User, count: int) -> str:
    Delivery.objects.bulk_create(
        Delivery(notification=notification, channel="email", status=DeliveryStatus.FAILED, attempts=5)
        for notification in _notifications_for(world.persona("sam"), count)
    )
    return "/api/v1/notifications/failed-deliveries/"


def availability_windows(world: World, viewer: User, count: int) -> str:
    dana = world.persona("dana")
    AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(clinician=dana, weekday=1 + n % 7, start_time=time(9), end_time=time(10))
        for n in range(count)
    )
    return f"/api/v1/clinicians/{dana.pk}/availability-windows/"


def availability_exceptions(world: World, viewer: User, count: int) -> str:
    dana = world.persona("dana")
    first = timezone.localdate() + timedelta(days=2 + AvailabilityException.objects.count())
    AvailabilityException.objects.bulk_create(
        AvailabilityException(clinician=dana, kind="time_off", date=first + timedelta(days=n)) for n in range(count)
    )
    return f"/api/v1/clinicians/{dana.pk}/availability-exceptions/"


@dataclass(frozen=True)
class ListCase:
    viewer: str  # a persona fixture
    add: Adder
    queries: int
    bearer: bool = True  # the calendar feed's token is in its URL


CASES = [
    ListCase("ada", users, queries=4),
    ListCase("ada", guardian_links, queries=4),
    ListCase("pat", guardian_links, queries=4),
    ListCase("ada", consents, queries=4),
    ListCase("ava", consents, queries=4),
    ListCase("dana", levels_of_care, queries=3),
    ListCase("ada", programs, queries=5),
    ListCase("ada", enrollments, queries=4),
    ListCase("dana", enrollments, queries=4),
    ListCase("dana", transitions, queries=4),
    ListCase("ada", groups, queries=5),
    ListCase("dana", groups, queries=5),
    ListCase("theo", groups, queries=5),
    ListCase("dana", group_members, queries=5),
    ListCase("ada", sessions, queries=3),
    ListCase("dana", sessions, queries=3),
    ListCase("ava", sessions, queries=3),
    ListCase("pat", sessions, queries=3),
    ListCase("ava", calendar_feed, queries=2, bearer=False),
    ListCase("ada", schedules, queries=4),
    ListCase("sam", notifications, queries=4),
    ListCase("ada", failed_deliveries, queries=4),
    ListCase("dana", availability_windows, queries=3),
    ListCase("ada", availability_windows, queries=4),
    # The policy's zone says which day is today, the list's default start.
    ListCase("dana", availability_exceptions, queries=4),
]


def _item_count(response: Any) -> int:
    if response["Content-Type"].startswith("text/calendar"):
        return response.content.count(b"BEGIN:VEVENT")
    body = response.json()
    return len(body["results"] if isinstance(body, dict) else body)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.add.__name__}-as-{case.viewer}")
def test_a_list_costs_a_fixed_number_of_queries(
    case: ListCase,
    request: pytest.FixtureRequest,
    client_for: Callable[[User], APIClient],
    django_assert_num_queries: Any,
) -> None:
    world = World(request)
    viewer = world.persona(case.viewer)
    client = client_for(viewer) if case.bearer else APIClient()

    url = case.add(world, viewer, FEW)
    with django_assert_num_queries(case.queries):
        few = client.get(url)
    assert few.status_code == 200, few.content

    case.add(world, viewer, MORE)
    with django_assert_num_queries(case.queries):
        more = client.get(url)
    assert more.status_code == 200, more.content
    # The items added are in the list, so the second read did serve more rows.
    assert _item_count(more) - _item_count(few) == MORE
