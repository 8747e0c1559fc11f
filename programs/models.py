"""Levels of care, programs, enrollments and care transitions."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import AgeBand, validate_time_zone


class LevelOfCare(models.Model):
    """OP / IOP / PHP with weekly scheduled-hour bounds per age band (CLINICAL.md).
    Seeded by a migration; admins may edit the figures for their payer mix."""

    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=80)
    asam_level = models.CharField(max_length=8)
    adult_min_weekly_minutes = models.PositiveIntegerField()
    adult_max_weekly_minutes = models.PositiveIntegerField(null=True, blank=True)
    adolescent_min_weekly_minutes = models.PositiveIntegerField()
    adolescent_max_weekly_minutes = models.PositiveIntegerField(null=True, blank=True)
    rank = models.PositiveSmallIntegerField(help_text="Intensity order: a higher rank is a step up.")

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(adult_max_weekly_minutes__isnull=True)
                | Q(adult_max_weekly_minutes__gte=F("adult_min_weekly_minutes")),
                name="adult_max_not_below_min",
            ),
            models.CheckConstraint(
                condition=Q(adolescent_max_weekly_minutes__isnull=True)
                | Q(adolescent_max_weekly_minutes__gte=F("adolescent_min_weekly_minutes")),
                name="adolescent_max_not_below_min",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def min_weekly_minutes(self, age_band: str) -> int:
        if age_band == AgeBand.ADOLESCENT:
            return self.adolescent_min_weekly_minutes
        return self.adult_min_weekly_minutes

    def max_weekly_minutes(self, age_band: str) -> int | None:
        if age_band == AgeBand.ADOLESCENT:
            return self.adolescent_max_weekly_minutes
        return self.adult_max_weekly_minutes


class BilledPer(models.TextChoices):
    DAY = "day", "Day (per diem)"
    WEEK = "week", "Week"


class PayerRule(models.Model):
    """What a payer requires of a billable IOP day and week (CLINICAL.md), as data admins
    may edit. Seeded by a migration with H0015, S9480 and Medicare IOP. How the figures are
    read, "a day meets" and "a week meets", is defined in programs/payer_rules.py."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    billed_per = models.CharField(
        max_length=8, choices=BilledPer.choices, help_text="What one claim line stands for: a day or a week."
    )
    # A day's minimum attended minutes: this figure, or the program's minutes_per_day_target
    # when daily_min_from_program is set; with neither, any attended minute makes the day.
    daily_min_minutes = models.PositiveIntegerField(null=True, blank=True)
    daily_min_from_program = models.BooleanField(default=False)
    min_qualifying_days_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    weekly_min_minutes = models.PositiveIntegerField(null=True, blank=True)
    weekly_max_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_min_minutes__isnull=True) | Q(daily_min_from_program=False),
                name="payer_rule_one_daily_minimum",
            ),
            models.CheckConstraint(
                condition=Q(daily_min_minutes__isnull=True)
                | (Q(daily_min_minutes__gte=1) & Q(daily_min_minutes__lte=24 * 60)),
                name="payer_rule_daily_min_in_a_day",
            ),
            models.CheckConstraint(
                condition=Q(min_qualifying_days_per_week__isnull=True)
                | (Q(min_qualifying_days_per_week__gte=1) & Q(min_qualifying_days_per_week__lte=7)),
                name="payer_rule_days_1_to_7",
            ),
            models.CheckConstraint(
                condition=Q(weekly_max_minutes__isnull=True)
                | Q(weekly_min_minutes__isnull=True)
                | Q(weekly_max_minutes__gte=F("weekly_min_minutes")),
                name="payer_rule_weekly_max_not_below_min",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Program(models.Model):
    name = models.CharField(max_length=200, help_text="Internal name; never sent outside the system.")
    level_of_care = models.ForeignKey(LevelOfCare, on_delete=models.PROTECT, related_name="programs")
    age_band = models.CharField(max_length=16, choices=AgeBand.choices)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    typical_length_weeks = models.PositiveSmallIntegerField(default=12)
    days_per_week_target = models.PositiveSmallIntegerField(default=3)
    minutes_per_day_target = models.PositiveSmallIntegerField(default=180)
    # A program may require more than its level's minimum (some IOPs run 10-20 h).
    min_weekly_minutes_override = models.PositiveIntegerField(null=True, blank=True)
    # The rule its billing export checks days and weeks against (none: no export).
    payer_rule = models.ForeignKey(PayerRule, null=True, blank=True, on_delete=models.PROTECT, related_name="programs")
    # The clinicians who work in the program: they enrol its participants, are their
    # primary clinicians and see its participants by id. Admins set it.
    clinicians = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="programs_staffed")
    # When each week's hours forecast runs, in the program's time zone: an ISO weekday
    # (1 Monday .. 7 Sunday) and a local time. From then to the week's end, a participant who
    # cannot reach the minimum with their remaining sessions is reported to their clinician.
    forecast_weekday = models.PositiveSmallIntegerField(default=4)
    forecast_time = models.TimeField(default=time(12, 0))
    # Telehealth safety: a participant confirms where they are and an emergency contact
    # before they are admitted to a session of the program (measures/checkin.py).
    checkin_required = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(days_per_week_target__gte=1) & Q(days_per_week_target__lte=7), name="days_per_week_1_to_7"
            ),
            models.CheckConstraint(
                condition=Q(minutes_per_day_target__gte=1) & Q(minutes_per_day_target__lte=24 * 60),
                name="minutes_per_day_in_a_day",
            ),
            models.CheckConstraint(
                condition=Q(typical_length_weeks__gte=1) & Q(typical_length_weeks__lte=104),
                name="typical_length_1_to_104_weeks",
            ),
            models.CheckConstraint(
                condition=Q(forecast_weekday__gte=1) & Q(forecast_weekday__lte=7), name="forecast_weekday_1_to_7"
            ),
        ]

    def __str__(self) -> str:
        return f"program #{self.pk}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    DISCHARGED = "discharged", "Discharged"
    TRANSFERRED = "transferred", "Transferred"


class DetoxStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    NOT_NEEDED = "not_needed", "Not needed"
    PENDING = "pending", "Pending"


class Enrollment(models.Model):
    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrollments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    start_date = models.DateField()
    planned_end_date = models.DateField()
    status = models.CharField(max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE)
    ended_on = models.DateField(null=True, blank=True)
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="primary_enrollments"
    )
    # Intake eligibility: recorded and shown, never a silent gate (CLINICAL.md).
    medically_stable = models.BooleanField()
    detox_status = models.CharField(max_length=16, choices=DetoxStatus.choices)
    stable_living_situation = models.BooleanField()
    able_to_attend = models.BooleanField()
    eligibility_notes = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant"], condition=Q(status="active"), name="one_active_enrollment_per_participant"
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__gt=F("start_date")), name="enrollment_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"enrollment #{self.pk}"

    @property
    def eligibility_met(self) -> bool:
        return (
            self.medically_stable
            and self.detox_status != DetoxStatus.PENDING
            and self.stable_living_situation
            and self.able_to_attend
        )


class CareTransition(models.Model):
    """A dated step up or down; the weekly requirement follows it from ``effective_date``."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="transitions")
    from_level = models.ForeignKey(LevelOfCare, on_delete=models.PROTECT, related_name="+")
    to_level = models.ForeignKey(LevelOfCare, on_delete=models.PROTECT, related_name="+")
    effective_date = models.DateField()
    reason = models.TextField(max_length=2000)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["effective_date", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(from_level=F("to_level")), name="transition_changes_level"),
            models.UniqueConstraint(fields=["enrollment", "effective_date"], name="one_transition_per_day"),
        ]

    def __str__(self) -> str:
        return f"transition #{self.pk}"

    @property
    def direction(self) -> str:
        return "step_up" if self.to_level.rank > self.from_level.rank else "step_down"
