from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from attendance.models import AttendanceRecord, AttendanceStatus, OverrideStatus
from server.api_helpers import StrictCharField


class AttendanceRecordSerializer(serializers.ModelSerializer):
    session = serializers.IntegerField(source="session_id", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    computed_status = serializers.ChoiceField(source="status", choices=AttendanceStatus.choices, read_only=True)
    computed_minutes = serializers.IntegerField(source="attended_minutes", read_only=True)
    status = serializers.SerializerMethodField()
    minutes = serializers.IntegerField(source="effective_minutes", read_only=True)
    intervals = serializers.SerializerMethodField()
    overridden_by = serializers.IntegerField(source="overridden_by_id", read_only=True, allow_null=True)

    class Meta:
        model = AttendanceRecord
        fields = [
            "id",
            "session",
            "user",
            "status",
            "minutes",
            "computed_status",
            "computed_minutes",
            "attended_seconds",
            "first_join",
            "last_leave",
            "intervals",
            "override_status",
            "override_minutes",
            "override_reason",
            "overridden_by",
            "overridden_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=OverrideStatus.choices))
    def get_status(self, record: AttendanceRecord) -> str:
        return record.effective_status

    @extend_schema_field(serializers.ListField(child=serializers.DictField(child=serializers.DateTimeField())))
    def get_intervals(self, record: AttendanceRecord) -> list[dict[str, str]]:
        return list(record.intervals)


class GuardianAttendanceRecordSerializer(AttendanceRecordSerializer):
    """What a guardian reads: the record without the clinician's note and name, which may
    say more than attendance (the consent's scope)."""

    class Meta(AttendanceRecordSerializer.Meta):
        fields = [
            name for name in AttendanceRecordSerializer.Meta.fields if name not in ("override_reason", "overridden_by")
        ]
        read_only_fields = fields


class StrictIntegerField(serializers.IntegerField):
    """An integer that refuses strings, floats and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class AttendanceOverrideSerializer(serializers.Serializer):
    """Set (or, with null, clear) the override of status and/or minutes; a reason always."""

    override_status = serializers.ChoiceField(choices=OverrideStatus.choices, allow_null=True, required=False)
    override_minutes = StrictIntegerField(min_value=0, allow_null=True, required=False)
    reason = StrictCharField(max_length=2000, trim_whitespace=True)

    # Never partial, although it serves a PATCH: the reason is always required, and the
    # OpenAPI schema (which marks every PATCH body partial) says so too.
    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "override_status" not in attrs and "override_minutes" not in attrs:
            raise serializers.ValidationError("Give override_status and/or override_minutes.")
        return attrs
