from __future__ import annotations

from rest_framework import serializers

from accounts.models import AgeBand
from programs.hours import HoursStatus
from programs.models import CareTransition, DetoxStatus, Enrollment, EnrollmentStatus, LevelOfCare, Program
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


class ProgramSerializer(serializers.ModelSerializer):
    level_of_care: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="code", read_only=True)

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
            "clinicians",
            "forecast_weekday",
            "forecast_time",
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
