"""Shapes of the availability and slot endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rest_framework import serializers

from bookings.availability import (
    MAX_BUFFER_MINUTES,
    MAX_CUTOFF_MINUTES,
    MAX_NOTICE_MINUTES,
    SESSION_MINUTES_RANGE,
)
from bookings.models import AvailabilityException, AvailabilityWindow, ExceptionKind
from bookings.slots import PolicyView, Slot
from server.api_helpers import StrictCharField
from server.input_limits import BoundedDateField


class StrictTimeField(serializers.TimeField):
    """A wall-clock time "HH:MM" (or "HH:MM:SS"), shown as "HH:MM"; numbers and other types
    are refused instead of coerced."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> time:
        if not isinstance(value, str):
            self.fail("invalid", format="HH:MM")
        return super().to_internal_value(value)


class StrictIntegerField(serializers.IntegerField):
    """A whole number given as a JSON number (not a string or a boolean)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class BookingPolicySerializer(serializers.Serializer):
    clinician = serializers.IntegerField()
    time_zone = serializers.CharField()
    session_minutes = serializers.IntegerField()
    buffer_minutes = serializers.IntegerField()
    min_notice_minutes = serializers.IntegerField()
    cancellation_cutoff_minutes = serializers.IntegerField()
    is_default = serializers.BooleanField(help_text="True while the clinician has set no policy (the defaults apply).")

    @staticmethod
    def of(clinician_id: int, policy: PolicyView) -> dict[str, Any]:
        return {
            "clinician": clinician_id,
            "time_zone": policy.time_zone,
            "session_minutes": policy.session_minutes,
            "buffer_minutes": policy.buffer_minutes,
            "min_notice_minutes": policy.min_notice_minutes,
            "cancellation_cutoff_minutes": policy.cancellation_cutoff_minutes,
            "is_default": not policy.stored,
        }


class BookingPolicyWriteSerializer(serializers.Serializer):
    time_zone = StrictCharField(max_length=64, help_text="IANA zone the windows' times are in.")
    session_minutes = StrictIntegerField(min_value=SESSION_MINUTES_RANGE[0], max_value=SESSION_MINUTES_RANGE[1])
    buffer_minutes = StrictIntegerField(min_value=0, max_value=MAX_BUFFER_MINUTES)
    min_notice_minutes = StrictIntegerField(min_value=0, max_value=MAX_NOTICE_MINUTES)
    cancellation_cutoff_minutes = StrictIntegerField(min_value=0, max_value=MAX_CUTOFF_MINUTES)


class AvailabilityWindowSerializer(serializers.ModelSerializer):
    start_time = StrictTimeField()
    end_time = StrictTimeField()

    class Meta:
        model = AvailabilityWindow
        fields = ["id", "weekday", "start_time", "end_time", "valid_from", "valid_until"]
        read_only_fields = fields


class AvailabilityWindowWriteSerializer(serializers.Serializer):
    weekday = StrictIntegerField(min_value=1, max_value=7, help_text="ISO weekday, 1 = Monday.")
    start_time = StrictTimeField()
    end_time = StrictTimeField()
    valid_from = BoundedDateField(required=False, allow_null=True)
    valid_until = BoundedDateField(required=False, allow_null=True)


class AvailabilityExceptionSerializer(serializers.ModelSerializer):
    start_time = StrictTimeField(allow_null=True)
    end_time = StrictTimeField(allow_null=True)

    class Meta:
        model = AvailabilityException
        fields = ["id", "kind", "date", "start_time", "end_time"]
        read_only_fields = fields


class AvailabilityExceptionWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExceptionKind.choices)
    date = BoundedDateField(help_text="Local date in the policy zone.")
    start_time = StrictTimeField(required=False, allow_null=True)
    end_time = StrictTimeField(required=False, allow_null=True)


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SlotSerializer(serializers.Serializer):
    """One free slot, in UTC and in the requester's zone (``context["time_zone"]``)."""

    starts_at = serializers.CharField(help_text="UTC, ISO 8601.")
    ends_at = serializers.CharField(help_text="UTC, ISO 8601.")
    local_starts_at = serializers.CharField(help_text="In time_zone, ISO 8601 with offset.")
    local_ends_at = serializers.CharField()
    time_zone = serializers.CharField(help_text="The requester's IANA zone.")

    @staticmethod
    def of(slot: Slot, zone: str) -> dict[str, str]:
        local = ZoneInfo(zone)
        return {
            "starts_at": utc_text(slot.starts_at),
            "ends_at": utc_text(slot.ends_at),
            "local_starts_at": slot.starts_at.astimezone(local).isoformat(),
            "local_ends_at": slot.ends_at.astimezone(local).isoformat(),
            "time_zone": zone,
        }


class SlotListSerializer(serializers.Serializer):
    clinician = serializers.IntegerField()
    time_zone = serializers.CharField(help_text="The requester's IANA zone.")
    slots = SlotSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" and "to" (the range searched, UTC) are Python keywords: added here.
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="Start of the range searched, UTC.")
        fields["to"] = serializers.CharField(help_text="End of the range searched (exclusive), UTC.")
        return fields
