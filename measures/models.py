"""Questionnaires (instruments, as data), their schedules per program, answers, the item-9
alerts they raise, and the safety check-in a participant makes before a session."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import AgeBand


class Instrument(models.Model):
    """A questionnaire, seeded and extended by data migrations (0002 seeds PHQ-9, PHQ-A and
    GAD-7). ``severity_bands`` is a list of [lowest score, label] in ascending order;
    ``risk_item`` (1-based) is the item whose answer above 0 raises a clinical alert."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=80, help_text="Shown to staff and in the app; never in email or push.")
    age_band = models.CharField(
        max_length=16, choices=AgeBand.choices, blank=True, help_text="Empty: for every age band."
    )
    prompt = models.CharField(max_length=300)
    items = ArrayField(models.CharField(max_length=300))
    answer_labels = ArrayField(models.CharField(max_length=80), help_text="Answer i scores i (0-based).")
    severity_bands = models.JSONField()
    risk_item = models.PositiveSmallIntegerField(null=True, blank=True)
    # Response and remission (CLINICAL.md): a drop of this share from the first score, and
    # a score below this threshold (PHQ below 5; none for GAD-7).
    response_drop_percent = models.PositiveSmallIntegerField(default=50)
    remission_below = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def max_answer(self) -> int:
        return len(self.answer_labels) - 1


class InstrumentSchedule(models.Model):
    """Which instruments a program gives, at intake (the enrollment's start) and then every
    ``every_days`` days after the last answer (weekly by default)."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="instrument_schedules")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="schedules")
    at_intake = models.BooleanField(default=True)
    every_days = models.PositiveSmallIntegerField(default=7)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "instrument"], name="one_schedule_per_program_instrument"),
            models.CheckConstraint(condition=Q(every_days__gte=1) & Q(every_days__lte=365), name="every_1_to_365_days"),
        ]

    def __str__(self) -> str:
        return f"instrument schedule #{self.pk}"


class Assessment(models.Model):
    """One completed questionnaire. Score, severity and risk are computed by the server
    (measures/scoring.py) when it is stored and never change; only the note may be added."""

    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="assessments")
    answers = ArrayField(models.PositiveSmallIntegerField())
    score = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=32)
    risk = models.BooleanField()
    # The due occurrence it answers (measures/schedule.py): one answer per occurrence.
    due_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, max_length=2000)
    note_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "instrument", "due_on"], name="one_assessment_per_due_occurrence"
            ),
        ]
        indexes = [models.Index(fields=["participant", "instrument", "created_at"])]

    def __str__(self) -> str:
        return f"assessment #{self.pk}"


class DueNotice(models.Model):
    """The "a questionnaire is ready" notification, once per due occurrence."""

    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "instrument", "due_on"], name="one_notice_per_due_occurrence"
            )
        ]

    def __str__(self) -> str:
        return f"due notice #{self.pk}"


class ClinicalAlert(models.Model):
    """A risk answer (PHQ item 9 above 0) that a clinician must acknowledge with a note.
    ``escalations`` counts the steps sent to the program's admins so far; each step is also
    an AlertEscalation row, the exactly-once guard of the beat sweep."""

    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="alert")
    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    escalations = models.PositiveSmallIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["acknowledged_at", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | ~Q(note=""), name="acknowledgement_has_note"
            )
        ]

    def __str__(self) -> str:
        return f"clinical alert #{self.pk}"


class AlertEscalation(models.Model):
    alert = models.ForeignKey(ClinicalAlert, on_delete=models.PROTECT, related_name="escalation_steps")
    step = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "step"], name="one_row_per_escalation_step")]

    def __str__(self) -> str:
        return f"alert escalation #{self.pk}"


class CheckIn(models.Model):
    """Where a participant is for one session and whom to call in an emergency (telehealth
    safety). One per person and session; checking in again replaces it. Shown to the
    session's hosts only, never in a notification, an email or a log."""

    session = models.ForeignKey("therapy_sessions.Session", on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkins")
    region = models.CharField(max_length=100)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    address = models.CharField(max_length=300, blank=True)
    contact_name = models.CharField(max_length=120)
    contact_relation = models.CharField(max_length=60)
    contact_phone = models.CharField(max_length=20, help_text="E.164")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "participant"], name="one_checkin_per_session_participant")
        ]
        indexes = [models.Index(fields=["participant", "-updated_at"])]

    def __str__(self) -> str:
        return f"check-in #{self.pk}"
