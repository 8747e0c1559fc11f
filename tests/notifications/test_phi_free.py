"""Everything that leaves the system is PHI-free by construction."""

from __future__ import annotations

import re

import pytest

from notifications.kinds import TEMPLATES, NotificationKind, UnsafeNotificationData, render

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
