"""Notification kinds and their templates.

PHI-free by construction: every template may use only the placeholders in
``SAFE_PLACEHOLDERS`` (a local time, a local date, a deep-link path), and those values are
checked against strict patterns before rendering. No template can name a diagnosis, a
program type, a group's clinical title or anything about substance use, because no such
value can reach a template. tests/notifications/test_phi_free.py renders every kind and
scans the result for forbidden terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

from django.conf import settings
from django.db import models

from accounts.models import ConsentScope


class NotificationKind(models.TextChoices):
    SESSION_OPENING = "session_opening", "A session is open to join"
    SESSION_REMINDER = "session_reminder", "Session reminder"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed"
    HOURS_AT_RISK = "hours_at_risk", "Weekly hours at risk"
    ABSENCE_STREAK = "absence_streak", "Repeated absences (clinicians only)"
    CLINICAL_ALERT = "clinical_alert", "Clinical alert (urgent, clinicians only)"
    GUARDIAN_ACCESS_ENDED = "guardian_access_ended", "A guardian's access ended"
    QUESTIONNAIRE_DUE = "questionnaire_due", "A questionnaire is ready"


SAFE_PLACEHOLDERS = {
    "time": re.compile(r"^([01]\d|2[0-3]):[0-5]\d$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "link": re.compile(r"^/[a-z0-9/_-]{1,120}$"),
}


@dataclass(frozen=True)
class KindTemplate:
    title: str
    body: str
    email_subject: str
    email_body: str
    urgent: bool = False
    # For a guardian recipient, the adolescent's consent must include this scope.
    guardian_scope: ConsentScope | None = ConsentScope.SCHEDULE
    # About the guardian's own access, not about the adolescent: sent without (and after
    # the end of) the adolescent's consent. It may say nothing about the adolescent.
    guardian_notice: bool = False
    # Its email carries the session's .ics (when notify() was given the session).
    calendar_attachment: bool = False

    def placeholders(self) -> set[str]:
        names = set()
        for text in (self.title, self.body, self.email_subject, self.email_body):
            names |= {field for _, field, _, _ in Formatter().parse(text) if field}
        return names


TEMPLATES: dict[str, KindTemplate] = {
    NotificationKind.SESSION_OPENING: KindTemplate(
        title="Your session at {time} is open",
        body="You can join now: {link}",
        email_subject="Your session at {time} is open",
        email_body="You have a session at {time} today. You can join now: {link}",
    ),
    NotificationKind.SESSION_REMINDER: KindTemplate(
        title="Session at {time} on {date}",
        body="Reminder: you have a session at {time} on {date}.",
        email_subject="Reminder: session at {time} on {date}",
        email_body="You have a session at {time} on {date}. Details: {link}",
        calendar_attachment=True,
    ),
    NotificationKind.SESSION_CANCELLED: KindTemplate(
        title="Session on {date} at {time} cancelled",
        body="Your session on {date} at {time} has been cancelled.",
        email_subject="A session has been cancelled",
        email_body="Your session on {date} at {time} has been cancelled. Details: {link}",
        calendar_attachment=True,
    ),
    NotificationKind.BOOKING_CONFIRMED: KindTemplate(
        title="Booked: {date} at {time}",
        body="Your appointment on {date} at {time} is booked.",
        email_subject="Appointment booked for {date}",
        email_body="Your appointment on {date} at {time} is booked. Details: {link}",
        calendar_attachment=True,
    ),
    NotificationKind.HOURS_AT_RISK: KindTemplate(
        title="Attendance this week",
        body="Please check your schedule for the rest of this week: {link}",
        email_subject="Please check your schedule",
        email_body="Please sign in to check your schedule for the rest of this week: {link}",
        guardian_scope=ConsentScope.HOURS,
    ),
    NotificationKind.ABSENCE_STREAK: KindTemplate(
        title="Repeated absences",
        body="A participant in your care has missed several sessions in a row: {link}",
        email_subject="Please sign in",
        email_body="A participant in your care has missed several sessions in a row. Please sign in: {link}",
        guardian_scope=None,  # never sent to guardians
    ),
    NotificationKind.CLINICAL_ALERT: KindTemplate(
        title="Urgent: a patient needs attention",
        body="Open the alert to review and acknowledge it: {link}",
        email_subject="Urgent: please sign in",
        email_body="An urgent item needs your attention. Please sign in: {link}",
        urgent=True,
        guardian_scope=None,  # never sent to guardians
    ),
    # No instrument's name: "PHQ-9" would tell a reader of the email what is screened for.
    NotificationKind.QUESTIONNAIRE_DUE: KindTemplate(
        title="A questionnaire is ready",
        body="A short questionnaire is ready for you: {link}",
        email_subject="A questionnaire is ready",
        email_body="A short questionnaire is ready for you. Please sign in to answer it: {link}",
        guardian_scope=None,  # about the participant's own care: never sent to guardians
    ),
    NotificationKind.GUARDIAN_ACCESS_ENDED: KindTemplate(
        title="Your access has changed",
        body="A participant linked to your account is now an adult, so your access to their information has ended.",
        email_subject="Your access has changed",
        email_body=(
            "A participant linked to your account is now an adult, so your access to their information "
            "has ended. They can share it with you again themselves. Details: {link}"
        ),
        guardian_scope=None,
        guardian_notice=True,
    ),
}


class UnsafeNotificationData(ValueError):
    pass


def safe_values(data: dict[str, str]) -> dict[str, str]:
    """Only the safe placeholders, each matching its pattern; anything else is refused."""
    values = {}
    for name, value in data.items():
        pattern = SAFE_PLACEHOLDERS.get(name)
        if pattern is None:
            raise UnsafeNotificationData(f"{name!r} is not a value notifications may carry")
        if not isinstance(value, str) or not pattern.match(value):
            raise UnsafeNotificationData(f"{name!r} does not look like a {name}")
        values[name] = value
    return values


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    email_subject: str
    email_body: str


def render(kind: str, data: dict[str, str]) -> Rendered:
    template = TEMPLATES[kind]
    values = safe_values(data)
    missing = template.placeholders() - set(values)
    if missing:
        raise UnsafeNotificationData(f"missing values for {sorted(missing)}")
    if "link" in values:
        # Stored as a checked path; what people read is an absolute link that works.
        values["link"] = f"{settings.PUBLIC_BASE_URL}{values['link']}"
    return Rendered(
        title=template.title.format(**values),
        body=template.body.format(**values),
        email_subject=template.email_subject.format(**values),
        email_body=template.email_body.format(**values),
    )
