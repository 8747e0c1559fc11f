"""factory_boy factories and the demo personas used across the suite."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from importlib import import_module

import factory
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import AgeBand, Consent, ConsentScope, GuardianLink, Role, User
from groups.models import GroupMembership, Modality, TherapyGroup
from programs.models import DetoxStatus, Enrollment, LevelOfCare, Program
from sessions.models import FacilitatorRole, RosterEntry, RosterRole, Session, SessionFacilitator, SessionKind

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


def level_of_care(code: str = "IOP") -> LevelOfCare:
    """A seeded level of care (OP, IOP, PHP)."""
    if not LevelOfCare.objects.filter(code=code).exists():
        # Transactional tests flush the rows the data migration seeded; seed them again.
        import_module("programs.migrations.0002_seed_levels_of_care").seed(apps, None)
    return LevelOfCare.objects.get(code=code)


class ProgramFactory(factory.django.DjangoModelFactory[Program]):
    """An adult IOP program in Chicago time unless told otherwise."""

    class Meta:
        model = Program
        skip_postgeneration_save = True

    level_of_care = factory.LazyFunction(level_of_care)
    age_band = AgeBand.ADULT
    time_zone = "America/Chicago"
    name = factory.LazyAttribute(lambda o: f"{o.age_band} {o.level_of_care.code} program")

    @factory.post_generation
    def clinicians(program: Program, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            program.clinicians.add(*extracted)


class TherapyGroupFactory(factory.django.DjangoModelFactory[TherapyGroup]):
    """A group of its program's age band, led by a new clinician. ``co_facilitators`` and
    ``members`` take lists of users."""

    class Meta:
        model = TherapyGroup
        skip_postgeneration_save = True

    program = factory.SubFactory(ProgramFactory)
    title = "Relapse prevention process group"
    modality = Modality.GROUP_THERAPY
    age_band = factory.SelfAttribute("program.age_band")
    capacity = 12
    lead_facilitator = factory.SubFactory(UserFactory)

    @factory.post_generation
    def co_facilitators(group: TherapyGroup, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            group.co_facilitators.add(*extracted)

    @factory.post_generation
    def members(group: TherapyGroup, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            GroupMembership.objects.bulk_create(GroupMembership(group=group, participant=p) for p in extracted)


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    """A 90-minute group session starting in a day (a new group's unless ``group`` is given;
    none for individual and family sessions). ``hosts`` (the first is the lead),
    ``roster`` (participants) and ``guardians`` take lists of users."""

    class Meta:
        model = Session
        skip_postgeneration_save = True

    class Params:
        starts_in = timedelta(days=1)
        minutes = 90

    kind = SessionKind.GROUP
    title = "Relapse prevention process group"
    # A group session must have its group (the group_session_has_group constraint).
    group = factory.Maybe(
        factory.LazyAttribute(lambda o: o.kind == SessionKind.GROUP),
        yes_declaration=factory.SubFactory(TherapyGroupFactory),
        no_declaration=None,
    )
    starts_at = factory.LazyAttribute(lambda o: timezone.now() + o.starts_in)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=o.minutes))

    @factory.post_generation
    def hosts(session: Session, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            SessionFacilitator.objects.bulk_create(
                SessionFacilitator(
                    session=session, clinician=host, role=FacilitatorRole.LEAD if index == 0 else FacilitatorRole.CO
                )
                for index, host in enumerate(extracted)
            )

    @factory.post_generation
    def roster(session: Session, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            RosterEntry.objects.bulk_create(RosterEntry(session=session, user=person) for person in extracted)

    @factory.post_generation
    def guardians(session: Session, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        if create and extracted:
            RosterEntry.objects.bulk_create(
                RosterEntry(session=session, user=person, role=RosterRole.GUARDIAN) for person in extracted
            )


class EnrollmentFactory(factory.django.DjangoModelFactory[Enrollment]):
    """An active, eligible enrollment that started a week ago, of a participant of the
    program's age band. The primary clinician is made one of the program's clinicians
    (enrolment is for a program's own clinicians)."""

    class Meta:
        model = Enrollment
        skip_postgeneration_save = True

    program = factory.SubFactory(ProgramFactory)
    participant = factory.Maybe(
        factory.LazyAttribute(lambda o: o.program.age_band == AgeBand.ADOLESCENT),
        yes_declaration=factory.SubFactory(UserFactory, adolescent=True),
        no_declaration=factory.SubFactory(UserFactory, adult=True),
    )
    primary_clinician = factory.SubFactory(UserFactory)
    start_date = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=7))
    planned_end_date = factory.LazyAttribute(lambda o: o.start_date + timedelta(weeks=12))
    medically_stable = True
    detox_status = DetoxStatus.NOT_NEEDED
    stable_living_situation = True
    able_to_attend = True
    created_by = factory.SelfAttribute("primary_clinician")

    @factory.post_generation
    def clinician_works_in_program(enrollment: Enrollment, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            enrollment.program.clinicians.add(enrollment.primary_clinician)


# The helpers many tests call: thin wrappers over the factories above.


def make_program(
    *, age_band: str = "adult", level: str = "IOP", time_zone: str = "America/Chicago", **extra: object
) -> Program:
    return ProgramFactory.create(age_band=age_band, level_of_care=level_of_care(level), time_zone=time_zone, **extra)


def make_group(
    *, program: Program, lead: User, co: list[User] | None = None, members: Sequence[User] = (), capacity: int = 12
) -> TherapyGroup:
    return TherapyGroupFactory.create(
        program=program, lead_facilitator=lead, co_facilitators=co or [], members=list(members), capacity=capacity
    )


def make_session(
    *,
    kind: str = "group",
    group: TherapyGroup | None = None,
    hosts: Sequence[User] = (),
    roster: Sequence[User] = (),
    guardians: Sequence[User] = (),
    starts_in: timedelta = timedelta(days=1),
    minutes: int = 90,
    title: str = "Relapse prevention process group",
) -> Session:
    return SessionFactory.create(
        kind=kind,
        group=group,
        hosts=list(hosts),
        roster=list(roster),
        guardians=list(guardians),
        starts_in=starts_in,
        minutes=minutes,
        title=title,
    )


def make_enrollment(
    *, participant: User, program: Program, clinician: User, start_date: date | None = None
) -> Enrollment:
    """An active enrollment; the clinician is made one of the program's clinicians."""
    if start_date is None:
        return EnrollmentFactory.create(participant=participant, program=program, primary_clinician=clinician)
    return EnrollmentFactory.create(
        participant=participant, program=program, primary_clinician=clinician, start_date=start_date
    )
