"""Everything that leaves the system is PHI-free by construction."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from notifications.email import build_email
from notifications.kinds import TEMPLATES, NotificationKind, UnsafeNotificationData, render
from notifications.services import notify
from tests.factories import SessionFactory, UserFactory

# Diagnoses, program types, clinical titles, substance-use terms.
FORBIDDEN_TERMS = [
    "diagnos", "depress", "anxiety", "bipolar", "ptsd", "schizo", "eating disorder", "suicid", "self-harm",
    "substance", "alcohol", "opioid", "heroin", "cocaine", "meth", "cannabis", "addict", "relapse", "detox",
    "sobriety", "recovery", "withdrawal", "methadone", "buprenorphine", "naloxone",
    "iop", "intensive outpatient", "php", "partial hospitalization", "outpatient", "psychiatric", "mental health",
    "dbt", "cbt", "therapy", "group therapy", "process group", "skills group", "phq", "gad-7", "asam",
]  # fmt: skip

SAMPLE = {"time": "17:00", "date": "2026-11-24", "link": "/sessions/42/join"}


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_every_kind_renders_without_forbidden_terms(kind: str) -> None:
    template = TEMPLATES[kind]
    data = {name: SAMPLE[name] for name in template.placeholders()}
    rendered = render(kind, data)
    for text in (rendered.title, rendered.body, rendered.email_subject, rendered.email_body):
        lowered = text.lower()
        for term in FORBIDDEN_TERMS:
            assert not re.search(rf"\b{re.escape(term)}", lowered), f"{kind}: {term!r} in {text!r}"


def test_every_kind_has_a_template() -> None:
    assert set(TEMPLATES) == set(NotificationKind.values)


@pytest.mark.parametrize(
    "data",
    [
        {"time": "DBT skills group", "link": "/sessions/1/join"},  # a clinical title where a time goes
        {"time": "17:00", "link": "https://evil.example/x"},
        {"time": "17:00", "link": "/sessions/1/join", "title": "Relapse prevention"},  # not a safe placeholder
        {"time": "17:00", "link": "/Sessions/Relapse Group"},
        {"time": 1700, "link": "/sessions/1/join"},
    ],
)
def test_unsafe_values_cannot_reach_a_template(data: dict) -> None:
    with pytest.raises(UnsafeNotificationData):
        render(NotificationKind.SESSION_OPENING, data)


def test_missing_values_are_refused() -> None:
    with pytest.raises(UnsafeNotificationData):
        render(NotificationKind.SESSION_OPENING, {"time": "17:00"})


# A deployment's own names (host, UID domain, sender) are in every email: they must not
# tell the kind of care either (README, Configuration). Neutral ones here, so the scan
# reads only what the product writes.
NEUTRAL_NAMES = {
    "PUBLIC_BASE_URL": "https://care.example.org",
    "CALENDAR_UID_DOMAIN": "care.example.org",
    "DEFAULT_FROM_EMAIL": "no-reply@care.example.org",
}


@pytest.mark.django_db
@pytest.mark.parametrize("session_kind", ["group", "individual", "family"])
@pytest.mark.parametrize("kind", [NotificationKind.SESSION_REMINDER, NotificationKind.SESSION_CANCELLED])
def test_session_emails_and_their_ics_carry_no_forbidden_terms(session_kind: str, kind: str, settings: Any) -> None:
    for name, value in NEUTRAL_NAMES.items():
        setattr(settings, name, value)
    title = "Relapse prevention DBT skills group (IOP, substance use)"
    session = SessionFactory.create(kind=session_kind, title=title, hosts=[UserFactory.create()])
    if kind == NotificationKind.SESSION_CANCELLED:
        session.cancelled_at = timezone.now()
        session.save(update_fields=["cancelled_at"])
    recipient = UserFactory.create(adult=True)
    data = {name: SAMPLE[name] for name in TEMPLATES[kind].placeholders()}
    notification = notify(recipient=recipient, kind=kind, data=data, session=session)
    assert notification is not None
    message = build_email(notification)
    assert message.attachments, "the .ics is attached"
    # The whole message as sent: headers, text and the .ics (its SUMMARY, PRODID, UID, URL).
    raw = message.message().as_string()
    ics = message.attachments[0].get_payload(decode=True).decode()
    for text in (raw, ics):
        # The iTIP METHOD property and content-type parameter are protocol, not text ("meth").
        lowered = re.sub(r"\bmethod[=:]", "", text.lower())
        assert title.lower() not in lowered
        for term in FORBIDDEN_TERMS:
            assert not re.search(rf"\b{re.escape(term)}", lowered), f"{kind}/{session_kind}: {term!r} in the email"
