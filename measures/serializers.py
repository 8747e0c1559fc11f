"""Shapes of the questionnaire and check-in endpoints (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from measures.models import Assessment, CheckIn, ClinicalAlert, Instrument
from server.api_helpers import StrictCharField


class AnswerStepSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # the key clients read; shadows Field.label


class InstrumentSerializer(serializers.ModelSerializer[Instrument]):
    answer_scale = serializers.SerializerMethodField()

    class Meta:
        model = Instrument
        fields = ["code", "name", "age_band", "prompt", "items", "answer_scale", "severity_bands", "risk_item"]

    @extend_schema_field(AnswerStepSerializer(many=True))
    def get_answer_scale(self, instrument: Instrument) -> list[dict[str, Any]]:
        return [{"value": value, "label": label} for value, label in enumerate(instrument.answer_labels)]


class AssessmentInputSerializer(serializers.Serializer[Any]):
    # Types are checked by the service (measures/scoring.py): the message says what is wrong.
    instrument = serializers.JSONField()
    answers = serializers.JSONField()
    # Optional, and only ever the caller: nobody answers for someone else (403).
    participant = serializers.IntegerField(required=False)


class AssessmentResultSerializer(serializers.ModelSerializer[Assessment]):
    instrument = serializers.CharField(source="instrument.code")

    class Meta:
        model = Assessment
        fields = ["id", "instrument", "score", "severity", "risk", "created_at"]


class AssessmentCreatedSerializer(AssessmentResultSerializer):
    """The answer to POST /assessments/: with a risk answer, the crisis resources too."""

    crisis_resources = serializers.CharField(required=False, help_text="Only when ``risk`` is true.")

    class Meta:
        model = Assessment
        fields = [*AssessmentResultSerializer.Meta.fields, "crisis_resources"]


class AssessmentSerializer(AssessmentResultSerializer):
    class Meta:
        model = Assessment
        fields = ["id", "instrument", "answers", "score", "severity", "risk", "change_from_first", "created_at", "note"]

    change_from_first = serializers.SerializerMethodField()

    def get_change_from_first(self, assessment: Assessment) -> int:
        return assessment.score - int(self.context["first_scores"][assessment.instrument.code])


class AssessmentTotalsSerializer(AssessmentSerializer):
    """A guardian's view (consent scope ``measures``): totals only, never the answers, the
    risk flag (it tells item 9's answer) or the clinician's note."""

    class Meta:
        model = Assessment
        fields = ["id", "instrument", "score", "severity", "change_from_first", "created_at"]


class TrendSerializer(serializers.Serializer[Any]):
    first = serializers.IntegerField()
    latest = serializers.IntegerField()
    change = serializers.IntegerField()
    change_percent = serializers.FloatField(allow_null=True)
    response = serializers.BooleanField()
    remission = serializers.BooleanField()


class InstrumentHistorySerializer(serializers.Serializer[Any]):
    instrument = serializers.CharField()
    # A guardian's rows carry fewer fields (AssessmentTotalsSerializer).
    assessments = AssessmentSerializer(many=True)
    trend = TrendSerializer()


class HistorySerializer(serializers.Serializer[Any]):
    participant = serializers.IntegerField()
    instruments = InstrumentHistorySerializer(many=True)


class NoteSerializer(serializers.Serializer[Any]):
    note = StrictCharField(max_length=2000, allow_blank=False, trim_whitespace=True)


class ProgramRowSerializer(serializers.Serializer[Any]):
    participant = serializers.IntegerField()
    instrument = serializers.CharField()
    latest_score = serializers.IntegerField()
    severity = serializers.CharField()
    answered_at = serializers.DateTimeField()
    trend = TrendSerializer()
    open_alert = serializers.BooleanField()


class AlertSerializer(serializers.ModelSerializer[ClinicalAlert]):
    assessment = serializers.IntegerField(source="assessment_id")
    instrument = serializers.CharField(source="assessment.instrument.code")

    class Meta:
        model = ClinicalAlert
        fields = [
            "id", "participant", "assessment", "instrument", "clinician", "created_at",
            "escalations", "acknowledged_at", "acknowledged_by", "note",
        ]  # fmt: skip


class DueQuestionnaireSerializer(serializers.Serializer[Any]):
    """GET /assessments/due/: a questionnaire the participant may answer now."""

    instrument = InstrumentSerializer()
    due_on = serializers.DateField(help_text="The local date it became due (its occurrence).")


# A questionnaire every 1 to 90 days: weekly is the default, and a gap longer than a typical
# 12-week stay's third would leave no trend to read (the model allows up to a year).
MAX_EVERY_DAYS = 90


class StrictIntegerField(serializers.IntegerField):
    """A whole number that refuses booleans, strings and floats instead of coercing them."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only (DRF's own takes "yes", 1, "on" ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ScheduleEntrySerializer(serializers.Serializer[Any]):
    instrument = StrictCharField(max_length=16, help_text="An instrument's code (GET /instruments/).")
    at_intake = StrictBooleanField(default=True, help_text="Due at the enrollment's start (else every_days after).")
    every_days = StrictIntegerField(
        min_value=1, max_value=MAX_EVERY_DAYS, default=7, help_text="Days from one answer to the next due date."
    )


class MeasureScheduleInputSerializer(serializers.Serializer[Any]):
    # Each instrument once; there are only a handful, so a long list is a mistake.
    instruments = serializers.ListField(child=ScheduleEntrySerializer(), max_length=20, allow_empty=True)


class MeasureScheduleSerializer(serializers.Serializer[Any]):
    program = serializers.IntegerField()
    instruments = ScheduleEntrySerializer(many=True)


class LocationSerializer(serializers.Serializer[Any]):
    region = StrictCharField(max_length=100)
    country = StrictCharField(min_length=2, max_length=2)
    address = StrictCharField(max_length=300, required=False, allow_blank=True, default="")

    def validate_country(self, value: str) -> str:
        code = value.upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise serializers.ValidationError("Use the country's two-letter ISO code, e.g. US.")
        return code


class EmergencyContactSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=120)
    relation = StrictCharField(max_length=60)
    phone = StrictCharField(max_length=32)


class CheckInInputSerializer(serializers.Serializer[Any]):
    location = LocationSerializer()
    emergency_contact = EmergencyContactSerializer()

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # A number without a + is read as a local number of the country the person is in.
        phone = data["emergency_contact"]["phone"]
        try:
            parsed = phonenumbers.parse(phone, data["location"]["country"])
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            raise serializers.ValidationError({"emergency_contact": {"phone": ["Enter a valid phone number."]}})
        return data


class CheckInSerializer(serializers.ModelSerializer[CheckIn]):
    location = serializers.SerializerMethodField()
    emergency_contact = serializers.SerializerMethodField()
    checked_in_at = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = CheckIn
        fields = ["session", "location", "emergency_contact", "checked_in_at"]

    @extend_schema_field(LocationSerializer)
    def get_location(self, checkin: CheckIn) -> dict[str, str]:
        return {"region": checkin.region, "country": checkin.country, "address": checkin.address}

    @extend_schema_field(EmergencyContactSerializer)
    def get_emergency_contact(self, checkin: CheckIn) -> dict[str, str]:
        return {"name": checkin.contact_name, "relation": checkin.contact_relation, "phone": checkin.contact_phone}


class CheckInReadSerializer(CheckInSerializer):
    """GET: ``prefilled`` when it is another session's (the last one), to prefill the form."""

    prefilled = serializers.SerializerMethodField()

    class Meta:
        model = CheckIn
        fields = [*CheckInSerializer.Meta.fields, "prefilled"]

    def get_prefilled(self, checkin: CheckIn) -> bool:
        return bool(checkin.session_id != self.context["session_id"])
