"""People, their roles, guardian links and the consents that gate what guardians see."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

ADOLESCENT_MIN_AGE = 12
ADULT_MIN_AGE = 18


class Role(models.TextChoices):
    PARTICIPANT = "participant", "Participant"
    GUARDIAN = "guardian", "Guardian"
    CLINICIAN = "clinician", "Clinician"
    ADMIN = "admin", "Program admin"


class AgeBand(models.TextChoices):
    ADOLESCENT = "adolescent", "Adolescent (12-17)"
    ADULT = "adult", "Adult (18+)"


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.", code="invalid_time_zone")


def age_on(birth_date: date, day: date) -> int:
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February falls back to the 28th. Whoever
    was born on or before it is at least ``years`` old on ``day`` (see age_on)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band_for(birth_date: date, day: date) -> AgeBand | None:
    """The band on ``day``; None below the youngest age the program treats."""
    age = age_on(birth_date, day)
    if age >= ADULT_MIN_AGE:
        return AgeBand.ADULT
    if age >= ADOLESCENT_MIN_AGE:
        return AgeBand.ADOLESCENT
    return None


def _default_time_zone() -> str:
    return str(settings.DEFAULT_USER_TIME_ZONE)


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices)
    birth_date = models.DateField(null=True, blank=True, help_text="Required for participants.")
    time_zone = models.CharField(max_length=64, default=_default_time_zone, validators=[validate_time_zone])

    REQUIRED_FIELDS = ["email", "role"]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(role=Role.PARTICIPANT) | Q(birth_date__isnull=False),
                name="participant_has_birth_date",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
        ]

    def clean(self) -> None:
        super().clean()
        if self.role == Role.PARTICIPANT:
            if self.birth_date is None:
                raise ValidationError({"birth_date": "Participants need a birth date."})
            if age_band_for(self.birth_date, timezone.localdate()) is None:
                raise ValidationError({"birth_date": "Participants must be at least 12 years old."})

    @property
    def age_band(self) -> AgeBand | None:
        if self.role != Role.PARTICIPANT or self.birth_date is None:
            return None
        today = timezone.now().astimezone(ZoneInfo(self.time_zone)).date()
        return age_band_for(self.birth_date, today)

    @property
    def is_adolescent(self) -> bool:
        return self.age_band == AgeBand.ADOLESCENT

    @property
    def is_clinician(self) -> bool:
        return self.role == Role.CLINICIAN

    @property
    def is_program_admin(self) -> bool:
        return self.role == Role.ADMIN


class GuardianLink(models.Model):
    """A guardian of an adolescent participant. Linking alone discloses nothing: what the
    guardian may see is named by the adolescent's Consent."""

    guardian = models.ForeignKey(User, on_delete=models.PROTECT, related_name="wards")
    adolescent = models.ForeignKey(User, on_delete=models.PROTECT, related_name="guardian_links")
    relationship = models.CharField(max_length=64, blank=True, default="parent")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["guardian", "adolescent"],
                condition=Q(revoked_at__isnull=True),
                name="one_active_link_per_guardian_and_adolescent",
            ),
            models.CheckConstraint(condition=~Q(guardian=models.F("adolescent")), name="guardian_not_self"),
        ]

    def __str__(self) -> str:
        return f"guardian link #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ConsentScope(models.TextChoices):
    SCHEDULE = "schedule", "Session schedule"
    ATTENDANCE = "attendance", "Attendance"
    HOURS = "hours", "Weekly hours"
    # Questionnaire totals and severity; the answers themselves are never shared.
    MEASURES = "measures", "Questionnaire scores"


class Consent(models.Model):
    """What an adolescent lets one linked guardian see (42 CFR Part 2: only the minor can
    consent to disclosure). A change is a new row; the previous one is revoked."""

    link = models.ForeignKey(GuardianLink, on_delete=models.PROTECT, related_name="consents")
    scopes = ArrayField(models.CharField(max_length=16, choices=ConsentScope.choices))
    given_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link"], condition=Q(revoked_at__isnull=True), name="one_active_consent_per_link"
            ),
        ]

    def __str__(self) -> str:
        return f"consent #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
