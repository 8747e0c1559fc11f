"""Demo questionnaire schedules (run by seed_demo after the programs exist): weekly PHQ-A
for the adolescent program, weekly PHQ-9 and GAD-7 for the adult one, each due at intake,
so ava and sam have one to answer under `make run`. Idempotent: a program that already has
a schedule (seeded, or set by an admin since) is left as it is."""

from __future__ import annotations

from accounts.models import User
from measures import services
from measures.models import InstrumentSchedule
from programs.models import Program

DEMO_SCHEDULES = {"Adolescent IOP": ["phqa"], "Adult IOP": ["phq9", "gad7"]}
DEMO_EVERY_DAYS = 7


def seed() -> dict[str, object]:
    ada = User.objects.get(username="ada")
    seeded = []
    for name, codes in DEMO_SCHEDULES.items():
        program = Program.objects.get(name=name)
        if InstrumentSchedule.objects.filter(program=program).exists():
            continue
        entries = [{"instrument": code, "at_intake": True, "every_days": DEMO_EVERY_DAYS} for code in codes]
        services.set_program_schedule(by=ada, program=program, entries=entries)
        seeded.append(name)
    # "A questionnaire is ready" now rather than at beat's first sweep (once per occurrence).
    notified = services.notify_due_questionnaires()
    return {"schedules": seeded, "notified": notified}
