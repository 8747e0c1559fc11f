"""The email of one notification: its PHI-free text and, for kinds about a session, the
session's .ics as it is at sending time (a move or a cancellation made while the email
waited is what the calendar app gets)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import SafeMIMEText

from notifications.kinds import TEMPLATES, render
from notifications.models import Notification
from sessions.calendar import render_email_event
from sessions.models import Session

ICS_FILENAME = "session.ics"


def build_email(notification: Notification) -> EmailMessage:
    rendered = render(notification.kind, notification.data)
    message = EmailMessage(
        subject=rendered.email_subject,
        body=rendered.email_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
    )
    session = notification.session
    if session is not None and TEMPLATES[notification.kind].calendar_attachment:
        message.attach(_calendar_part(session))
    return message


def _calendar_part(session: Session) -> SafeMIMEText:
    method, ics = render_email_event(session)
    part = SafeMIMEText(ics.decode(), "calendar", "utf-8")
    # Calendar apps read the iTIP method from the content type as well as the body.
    part.set_param("method", method)
    part.add_header("Content-Disposition", "attachment", filename=ICS_FILENAME)
    return part
