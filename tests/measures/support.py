"""Helpers of the questionnaire and check-in tests, and of room tests that need people
checked in (the check-in is required by default before a participant is admitted)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from django.apps import apps

from accounts.models import User
from measures.models import Assessment, CheckIn, Instrument
from programs.models import Program
from sessions.models import Session


def seed_instruments() -> None:
    """The seeded instruments, again: a transactional test's flush removes migration data."""
    if not Instrument.objects.exists():
        import_module("measures.migrations.0002_seed_instruments").seed(apps, None)


def check_in(session: Session, participants: Iterable[User]) -> None:
    """Check these participants in for the session, as POST .../checkin/ would."""
    for participant in participants:
        CheckIn.objects.update_or_create(
            session=session,
            participant=participant,
            defaults={
                "region": "IL",
                "country": "US",
                "contact_name": "Robin",
                "contact_relation": "sibling",
                "contact_phone": "+13125550123",
            },
        )


def schedule(program: Program, *codes: str, at_intake: bool = True, every_days: int = 7) -> None:
    from measures.models import InstrumentSchedule

    for code in codes:
        InstrumentSchedule.objects.create(
            program=program, instrument=Instrument.objects.get(code=code), at_intake=at_intake, every_days=every_days
        )


def post_checkin(session: Session, participant: User, phone: str = "+1 312 555 0199") -> CheckIn:
    """Check in through the service (as the endpoint does), so the room hears of it."""
    from measures.checkin import CheckInData
    from measures.checkin import check_in as service_check_in

    data = CheckInData(
        region="Illinois", country="US", address="", contact_name="Robin", contact_relation="sibling",
        contact_phone=phone,
    )  # fmt: skip
    return service_check_in(session=session, participant=participant, data=data)


def answer_with_risk(participant: User, *, clinician: User, program: Program) -> Assessment:
    """Enroll the participant (PHQ-9 at intake) and answer it with item 9 above 0."""
    from measures.services import submit_assessment
    from tests.factories import make_enrollment

    if not participant.enrollments.exists():
        schedule(program, "phq9")
        make_enrollment(participant=participant, program=program, clinician=clinician)
    return submit_assessment(participant=participant, instrument_code="phq9", answers=[0] * 8 + [2])
