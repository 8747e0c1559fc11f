"""Telling a participant's clinician in time: a week that cannot reach its minimum, and a
run of absences. Both notify through notifications.services.notify, PHI-free, once (a
dedupe key per participant and week, or per streak), so the beat task and the attendance
task may run as often as they like."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from itertools import takewhile
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from attendance.models import AttendanceRecord, AttendanceStatus, OverrideStatus
from notifications.kinds import NotificationKind
from notifications.services import notify
from programs.hours import HoursStatus, program_weekly_hours
from programs.models import Enrollment, EnrollmentStatus, Program


def forecast_moment(program: Program, year: int, week: int) -> datetime:
    """When the program's forecast runs in that ISO week (its weekday and local time)."""
    day = date.fromisocalendar(year, week, program.forecast_weekday)
    return datetime.combine(day, program.forecast_time, ZoneInfo(program.time_zone))


def send_hours_forecasts(*, now: datetime | None = None) -> int:
    """For each program past its forecast moment this week (in its time zone), tell each
    at-risk participant's primary clinician, once per participant and week. Returns how
    many were told now."""
    now = now or timezone.now()
    told = 0
    for program in Program.objects.select_related("level_of_care"):
        year, week, _ = now.astimezone(ZoneInfo(program.time_zone)).isocalendar()
        if now < forecast_moment(program, year, week):
            continue
        at_risk = [h.participant_id for h in program_weekly_hours(program=program, year=year, week=week, now=now)
                   if h.status == HoursStatus.AT_RISK]  # fmt: skip
        clinicians = {
            enrollment.participant_id: enrollment.primary_clinician
            for enrollment in Enrollment.objects.filter(
                program=program, participant_id__in=at_risk, status=EnrollmentStatus.ACTIVE
            ).select_related("primary_clinician")
        }
        for participant_id in at_risk:
            if participant_id not in clinicians:
                continue
            sent = notify(
                recipient=clinicians[participant_id],
                kind=NotificationKind.HOURS_AT_RISK,
                data={"link": hours_path(participant_id)},
                dedupe_key=f"hours_at_risk:{participant_id}:{year}-W{week:02d}",
            )
            told += sent is not None
    return told


def hours_path(participant_id: int) -> str:
    """The participant's weekly hours, a page the server serves (made absolute in texts)."""
    return reverse("participant-hours", kwargs={"pk": participant_id})


def _absent(record: AttendanceRecord) -> bool:
    """An absence that counts towards a streak: excused ones do not."""
    if record.override_status == OverrideStatus.EXCUSED:
        return False
    return (record.override_status or record.status) == AttendanceStatus.ABSENT


def notify_absence_streaks(*, session_id: int) -> int:
    """After a session's attendance is written: each participant absent from it whose last
    ABSENCE_STREAK_SESSIONS sessions were all missed is reported to their primary
    clinician, once per streak (the streak is named by its first missed session). Three
    queries, whatever the number absent, besides the notifications."""
    absent = [
        record
        for record in AttendanceRecord.objects.filter(session_id=session_id, user__role="participant").select_related(
            "session"
        )
        if _absent(record)
    ]
    if not absent:
        return 0
    absent_ids = [record.user_id for record in absent]
    histories: dict[int, list[AttendanceRecord]] = defaultdict(list)  # newest first
    for earlier in AttendanceRecord.objects.filter(
        user_id__in=absent_ids, session__starts_at__lte=absent[0].session.starts_at
    ).order_by("user_id", "-session__starts_at", "-session_id"):
        histories[earlier.user_id].append(earlier)
    clinicians = {
        enrollment.participant_id: enrollment.primary_clinician
        for enrollment in Enrollment.objects.filter(
            participant_id__in=absent_ids, status=EnrollmentStatus.ACTIVE
        ).select_related("primary_clinician")
    }
    told = 0
    for record in absent:
        streak = list(takewhile(_absent, histories[record.user_id]))
        if len(streak) < settings.ABSENCE_STREAK_SESSIONS or record.user_id not in clinicians:
            continue
        sent = notify(
            recipient=clinicians[record.user_id],
            kind=NotificationKind.ABSENCE_STREAK,
            data={"link": hours_path(record.user_id)},
            dedupe_key=f"absence_streak:{record.user_id}:{streak[-1].session_id}",
        )
        told += sent is not None
    return told
