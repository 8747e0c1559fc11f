from __future__ import annotations

from rest_framework import serializers

from accounts.models import AgeBand
from programs.hours import HoursStatus
from programs.models import (
    BilledPer,
    CareTransition,
    DetoxStatus,
    Enrollment,
    EnrollmentStatus,
    LevelOfCare,
    PayerRule,
    Program,
)
from server.input_limits import BoundedDateField, IdField


class LevelOfCareSerializer(serializers.ModelSerializer):
    class Meta:
        model = LevelOfCare
        fields = [
            "id",
            "code",
            "name",
            "asam_level",
            "adult_min_weekly_minutes",
            "adult_max_weekly_minutes",
            "adolescent_min_weekly_minutes",
            "adolescent_max_weekly_minutes",
            "rank",
        ]
        read_only_fields = fields


class LevelOfCareUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=80)
    adult_min_weekly_minutes = serializers.IntegerField(required=False, min_value=0, max_value=10080)
    adult_max_weekly_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10080)
    adolescent_min_weekly_minutes = serializers.IntegerField(required=False, min_value=0, max_value=10080)
    adolescent_max_weekly_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10080
    )


class PayerRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayerRule
        fields = [
            "id",
            "code",
            "name",
            "billed_per",
            "daily_min_minutes",
            "daily_min_from_program",
            "min_qualifying_days_per_week",
            "weekly_min_minutes",
            "weekly_max_minutes",
        ]
        read_only_fields = fields


class PayerRuleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=120)
    billed_per = serializers.ChoiceField(required=False, choices=BilledPer.choices)
    daily_min_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1440)
    daily_min_from_program = serializers.BooleanField(required=False)
    min_qualifying_days_per_week = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=7)
    weekly_min_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10080)
    weekly_max_minutes = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10080)


def _payer_rule_field(*, required: bool, default: object = serializers.empty) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=PayerRule.objects.all(),
        allow_null=True,
        required=required,
        default=default,
        help_text="The payer rule's code (H0015, S9480, MEDICARE_IOP, ...) the billing export checks days against.",
    )


class ProgramSerializer(serializers.ModelSerializer):
    level_of_care: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)
    payer_rule: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = Program
        fields = [
            "id",
            "name",
            "level_of_care",
            "age_band",
            "time_zone",
            "typical_length_weeks",
            "days_per_week_target",
            "minutes_per_day_target",
            "min_weekly_minutes_override",
            "payer_rule",
            "clinicians",
            "forecast_weekday",
            "forecast_time",
            "checkin_required",
        ]
        read_only_fields = fields


class ProgramWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    level_of_care = serializers.SlugRelatedField(slug_field="code", queryset=LevelOfCare.objects.all())
    age_band = serializers.ChoiceField(choices=AgeBand.choices)
    time_zone = serializers.CharField(max_length=64)
    typical_length_weeks = serializers.IntegerField(required=False, min_value=1, max_value=104, default=12)
    days_per_week_target = serializers.IntegerField(required=False, min_value=1, max_value=7, default=3)
    minutes_per_day_target = serializers.IntegerField(required=False, min_value=1, max_value=1440, default=180)
    min_weekly_minutes_override = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10080, default=None
    )
    payer_rule = _payer_rule_field(required=False, default=None)


class ProgramUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    clinicians = serializers.ListField(child=IdField(), required=False, max_length=200, allow_empty=True)
    time_zone = serializers.CharField(required=False, max_length=64)
    typical_length_weeks = serializers.IntegerField(required=False, min_value=1, max_value=104)
    days_per_week_target = serializers.IntegerField(required=False, min_value=1, max_value=7)
    minutes_per_day_target = serializers.IntegerField(required=False, min_value=1, max_value=1440)
    min_weekly_minutes_override = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10080
    )
    payer_rule = _payer_rule_field(required=False)
    # When the weekly hours forecast runs, in the program's time zone (ISO weekday, local time).
    forecast_weekday = serializers.IntegerField(required=False, min_value=1, max_value=7)
    forecast_time = serializers.TimeField(required=False)


class EnrollmentSerializer(serializers.ModelSerializer):
    eligibility_met = serializers.BooleanField(read_only=True)
    level_of_care = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "participant",
            "program",
            "start_date",
            "planned_end_date",
            "status",
            "ended_on",
            "primary_clinician",
            "level_of_care",
            "medically_stable",
            "detox_status",
            "stable_living_situation",
            "able_to_attend",
            "eligibility_notes",
            "eligibility_met",
        ]
        read_only_fields = fields

    def get_level_of_care(self, enrollment: Enrollment) -> str:
        from django.utils import timezone

        from programs.selectors import level_on

        # Lists read it in their one query (selectors.with_level_code_on); an enrollment
        # just made has none yet and reads it here.
        code = getattr(enrollment, "level_code", None)
        return code if code is not None else level_on(enrollment, timezone.localdate()).code


class EnrollmentWriteSerializer(serializers.Serializer):
    participant = IdField()
    program = IdField()
    start_date = BoundedDateField()
    planned_end_date = BoundedDateField(required=False, allow_null=True, default=None)
    primary_clinician = IdField()
    medically_stable = serializers.BooleanField()
    detox_status = serializers.ChoiceField(choices=DetoxStatus.choices)
    stable_living_situation = serializers.BooleanField()
    able_to_attend = serializers.BooleanField()
    eligibility_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class EnrollmentEndSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s for s in EnrollmentStatus.choices if s[0] != EnrollmentStatus.ACTIVE])
    ended_on = BoundedDateField()


class CareTransitionSerializer(serializers.ModelSerializer):
    from_level: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_level: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)
    direction = serializers.CharField(read_only=True)

    class Meta:
        model = CareTransition
        fields = ["id", "enrollment", "from_level", "to_level", "direction", "effective_date", "reason", "clinician"]
        read_only_fields = fields


class CareTransitionWriteSerializer(serializers.Serializer):
    to_level = serializers.SlugRelatedField(slug_field="code", queryset=LevelOfCare.objects.all())
    effective_date = BoundedDateField()
    reason = serializers.CharField(max_length=2000)
    clinician = IdField(required=False)


class WeeklyRequirementSerializer(serializers.Serializer):
    week = serializers.CharField(source="label")
    min_minutes = serializers.IntegerField()
    max_minutes = serializers.IntegerField(allow_null=True)
    levels = serializers.ListField(child=serializers.CharField(allow_blank=True))


class WeeklyHoursSerializer(serializers.Serializer):
    """CONTRACT.md's hours shape: exactly these keys."""

    participant = serializers.IntegerField(source="participant_id")
    week = serializers.CharField(source="label", help_text="ISO week, e.g. 2026-W48, in the program's time zone.")
    level_of_care = serializers.CharField(help_text="The level in effect on the week's last enrolled day.")
    required_minutes = serializers.IntegerField()
    attended_minutes = serializers.IntegerField()
    scheduled_remaining_minutes = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[status.value for status in HoursStatus])


class BillingDaySerializer(serializers.Serializer):
    """One row of the billing export (programs.billing_services.row_values); definitions
    in programs.payer_rules."""

    participant = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date = serializers.DateField(help_text="Local date in the program's time zone.")
    attended_minutes = serializers.IntegerField(help_text="Attendance records, overrides applied.")
    services = serializers.ListField(child=serializers.CharField(), help_text="Distinct services attended that day.")
    day_meets_rule = serializers.BooleanField()
    week = serializers.CharField(help_text="ISO week in the program's time zone, e.g. 2026-W48.")
    week_attended_minutes = serializers.IntegerField()
    week_qualifying_days = serializers.IntegerField()
    week_meets_rule = serializers.BooleanField()
    billable = serializers.BooleanField(help_text="day_meets_rule and week_meets_rule.")
    short_reason = serializers.CharField(help_text="Why the day or its week falls short; empty when billable.")
