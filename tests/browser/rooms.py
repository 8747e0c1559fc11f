"""Rooms for the browser tests: sessions open now, with the personas on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from channels.db import database_sync_to_async

from accounts.models import User
from programs.models import Program
from sessions.models import Session
from tests.factories import UserFactory, make_enrollment, make_group, make_program, make_session


@dataclass
class Room:
    session: Session
    dana: User
    ava: User
    ben: User | None = None


def _program(*, checkin_required: bool = False) -> Program:
    program = make_program(age_band="adolescent")
    program.checkin_required = checkin_required
    program.save(update_fields=["checkin_required"])
    return program


@database_sync_to_async
def group_room(*, admit_directly: bool = False, checkin_required: bool = False) -> Room:
    """An adolescent group open now, led by dana, with ava and ben on its roster; its
    program asks for the safety check-in before admission when ``checkin_required``."""
    dana = UserFactory.create(username="dana", first_name="Dana")
    ava = UserFactory.create(username="ava", first_name="Ava", adolescent=True)
    ben = UserFactory.create(username="ben", first_name="Ben", adolescent=True)
    program = _program(checkin_required=checkin_required)
    for participant in (ava, ben):
        make_enrollment(participant=participant, program=program, clinician=dana)
    group = make_group(program=program, lead=dana, members=[ava, ben])
    session = make_session(
        group=group, hosts=[dana], roster=[ava, ben], starts_in=timedelta(minutes=-5), minutes=120,
        title="Coping skills group",
    )  # fmt: skip
    if admit_directly:
        Session.objects.filter(pk=session.pk).update(admit_directly=True)
    return Room(session, dana, ava, ben)


@database_sync_to_async
def individual_room() -> Room:
    """An individual session open now: dana and ava, ava admitted on arrival."""
    dana = UserFactory.create(username="dana", first_name="Dana")
    ava = UserFactory.create(username="ava", first_name="Ava", adolescent=True)
    make_enrollment(participant=ava, program=_program(), clinician=dana)
    session = make_session(
        kind="individual", hosts=[dana], roster=[ava], starts_in=timedelta(minutes=-5), minutes=60,
        title="Individual therapy",
    )  # fmt: skip
    Session.objects.filter(pk=session.pk).update(admit_directly=True)
    return Room(session, dana, ava)
