"""factory_boy factories and the demo personas used across the suite."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from importlib import import_module

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import Consent, ConsentScope, GuardianLink, Role, User

TEST_PASSWORD = "correct-horse-battery-2026"


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # Argon2 is deliberately slow; hash once and share it across every test user.
    return make_password(TEST_PASSWORD)


def birth_date_for_age(years: int, extra_days: int = 30) -> date:
    today = timezone.localdate()
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:
        anniversary = today.replace(year=today.year - years, day=28)
    return anniversary - timedelta(days=extra_days)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.invalid")
    role = Role.CLINICIAN
    time_zone = "America/New_York"
    password = factory.LazyFunction(_password_hash)

    class Params:
        adolescent = factory.Trait(
            role=Role.PARTICIPANT, birth_date=factory.LazyFunction(lambda: birth_date_for_age(15))
        )
        adult = factory.Trait(role=Role.PARTICIPANT, birth_date=factory.LazyFunction(lambda: birth_date_for_age(34)))
        guardian = factory.Trait(role=Role.GUARDIAN)
        admin = factory.Trait(role=Role.ADMIN, is_staff=True)


class GuardianLinkFactory(factory.django.DjangoModelFactory[GuardianLink]):
    class Meta:
        model = GuardianLink

    guardian = factory.SubFactory(UserFactory, guardian=True)
    adolescent = factory.SubFactory(UserFactory, adolescent=True)
    created_by = factory.SubFactory(UserFactory, admin=True)


class ConsentFactory(factory.django.DjangoModelFactory[Consent]):
    class Meta:
        model = Consent

    link = factory.SubFactory(GuardianLinkFactory)
    scopes = factory.LazyFunction(lambda: [ConsentScope.SCHEDULE])


def make_program(*, age_band: str = "adult", level: str = "IOP", time_zone: str = "America/Chicago", **extra: object):
    from django.apps import apps

    from programs.models import LevelOfCare, Program

    if not LevelOfCare.objects.filter(code=level).exists():
        # Transactional tests flush the rows the data migration seeded; seed them again.
        import_module("programs.migrations.0002_seed_levels_of_care").seed(apps, None)
    return Program.objects.create(
        name=f"{age_band} {level} program",
        level_of_care=LevelOfCare.objects.get(code=level),
        age_band=age_band,
        time_zone=time_zone,
        **extra,
    )


def make_group(*, program, lead: User, co: list[User] | None = None, members: list[User] = (), capacity: int = 12):  # type: ignore[assignment]
    from groups.models import GroupMembership, Modality, TherapyGroup

    group = TherapyGroup.objects.create(
        program=program,
        title="Relapse prevention process group",
        modality=Modality.GROUP_THERAPY,
        age_band=program.age_band,
        capacity=capacity,
        lead_facilitator=lead,
    )
    group.co_facilitators.set(co or [])
    for member in members:
        GroupMembership.objects.create(group=group, participant=member)
    return group


def make_session(
    *,
    kind: str = "group",
    group=None,
    hosts: list[User] = (),  # type: ignore[assignment]
    roster: list[User] = (),  # type: ignore[assignment]
    guardians: list[User] = (),  # type: ignore[assignment]
    starts_in: timedelta = timedelta(days=1),
    minutes: int = 90,
    title: str = "Relapse prevention process group",
):
    from sessions.models import FacilitatorRole, RosterEntry, Session, SessionFacilitator

    starts_at = timezone.now() + starts_in
    session = Session.objects.create(
        kind=kind, title=title, group=group, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes)
    )
    for index, host in enumerate(hosts):
        SessionFacilitator.objects.create(
            session=session, clinician=host, role=FacilitatorRole.LEAD if index == 0 else FacilitatorRole.CO
        )
    for person in roster:
        RosterEntry.objects.create(session=session, user=person)
    for person in guardians:
        RosterEntry.objects.create(session=session, user=person, role="guardian")
    return session


def make_enrollment(*, participant: User, program, clinician: User, start_date: date | None = None):
    """An active enrollment; the clinician is made one of the program's clinicians."""
    from programs.models import Enrollment

    program.clinicians.add(clinician)
    start = start_date or timezone.localdate() - timedelta(days=7)
    return Enrollment.objects.create(
        participant=participant,
        program=program,
        start_date=start,
        planned_end_date=start + timedelta(weeks=12),
        primary_clinician=clinician,
        medically_stable=True,
        detox_status="not_needed",
        stable_living_situation=True,
        able_to_attend=True,
        created_by=clinician,
    )
