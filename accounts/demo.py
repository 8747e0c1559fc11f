"""Demo personas (CONTRACT.md): dana, theo, ava, sam, pat, ada, all with DEMO_PASSWORD."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.models import ConsentScope, GuardianLink, Role, User
from server.demo import ensure_demo_allowed

DEMO_TIME_ZONE = "America/New_York"


def _years_ago(today: date, years: int, extra_days: int) -> date:
    try:
        anniversary = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        anniversary = today.replace(year=today.year - years, day=28)
    return anniversary - timedelta(days=extra_days)


def demo_people(today: date) -> list[dict[str, object]]:
    return [
        {"username": "dana", "role": Role.CLINICIAN, "first_name": "Dana", "last_name": "Reyes"},
        {"username": "theo", "role": Role.CLINICIAN, "first_name": "Theo", "last_name": "Marsh"},
        # 15 and a bit: stays 15 for months after the first seeding.
        {"username": "ava", "role": Role.PARTICIPANT, "first_name": "Ava", "last_name": "Lind",
         "birth_date": _years_ago(today, 15, 60)},
        {"username": "sam", "role": Role.PARTICIPANT, "first_name": "Sam", "last_name": "Okafor",
         "birth_date": _years_ago(today, 34, 120)},
        {"username": "pat", "role": Role.GUARDIAN, "first_name": "Pat", "last_name": "Lind"},
        {"username": "ada", "role": Role.ADMIN, "first_name": "Ada", "last_name": "Quinn"},
    ]  # fmt: skip


def seed() -> dict[str, User]:
    """Idempotent: existing personas are left as they are."""
    # Checked here too: this is where accounts get the published DEMO_PASSWORD.
    ensure_demo_allowed()
    today = timezone.localdate()
    people: dict[str, User] = {}
    for spec in demo_people(today):
        username = str(spec["username"])
        existing = User.objects.filter(username=username).first()
        if existing is None:
            existing = services.create_user(
                by=None,
                password=settings.DEMO_PASSWORD,
                email=f"{username}@demo.invalid",
                time_zone=DEMO_TIME_ZONE,
                **spec,  # type: ignore[arg-type]
            )
        people[username] = existing
    link = GuardianLink.objects.filter(
        guardian=people["pat"], adolescent=people["ava"], revoked_at__isnull=True
    ).first()
    if link is None:
        link = services.link_guardian(by=people["ada"], guardian=people["pat"], adolescent=people["ava"])
    if not link.consents.filter(revoked_at__isnull=True).exists():
        services.give_consent(by=people["ava"], link=link, scopes=[ConsentScope.SCHEDULE])
    return people
