from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rest_framework import serializers

from server.input_limits import BoundedDateField, BoundedDateTimeField, IdField
from sessions.models import SCHEDULABLE_KINDS, RecurringSchedule, Session, SessionService


class LocalDateTimeField(serializers.DateTimeField):
    """ISO 8601 with the offset of the caller's time zone (``context["time_zone"]``)."""

    def to_representation(self, value: datetime) -> str:
        zone = self.context.get("time_zone") or "UTC"
        return value.astimezone(ZoneInfo(zone)).isoformat()


class SessionSerializer(serializers.ModelSerializer):
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    status = serializers.CharField()

    class Meta:
        model = Session
        fields = ["id", "kind", "service", "title", "starts_at", "ends_at", "status", "group"]
        read_only_fields = fields


class SessionWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SCHEDULABLE_KINDS)
    service = serializers.ChoiceField(
        choices=SessionService.choices, required=False, help_text="Default: the kind's (group -> group_therapy, ...)."
    )
    title = serializers.CharField(max_length=200)
    starts_at = BoundedDateTimeField(required=False)
    local_date = BoundedDateField(required=False)
    local_time = serializers.TimeField(required=False)
    time_zone = serializers.CharField(required=False, max_length=64)
    ends_at = BoundedDateTimeField(required=False)
    duration_minutes = serializers.IntegerField(required=False, min_value=15, max_value=480)
    group = IdField(required=False)
    participant = IdField(required=False)
    clinician = IdField(required=False)
    admit_directly = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        local = [name for name in ("local_date", "local_time", "time_zone") if name in attrs]
        if local and len(local) != 3:
            raise serializers.ValidationError({"local_time": "Give local_date, local_time and time_zone together."})
        return attrs


class SessionMoveSerializer(serializers.Serializer):
    starts_at = BoundedDateTimeField()
    ends_at = BoundedDateTimeField()


class ScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecurringSchedule
        fields = [
            "id",
            "kind",
            "service",
            "title",
            "group",
            "participant",
            "clinician",
            "weekdays",
            "start_time",
            "duration_minutes",
            "time_zone",
            "starts_on",
            "ends_on",
            "cancelled_at",
        ]
        read_only_fields = fields


class ScheduleWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SCHEDULABLE_KINDS)
    service = serializers.ChoiceField(
        choices=SessionService.choices,
        required=False,
        help_text="What its sessions deliver; copied to each. Default: the kind's.",
    )
    title = serializers.CharField(max_length=200)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), min_length=1, max_length=7
    )
    start_time = serializers.TimeField()
    duration_minutes = serializers.IntegerField(min_value=15, max_value=480)
    starts_on = BoundedDateField()
    ends_on = BoundedDateField(required=False, allow_null=True, default=None)
    group = IdField(required=False)
    participant = IdField(required=False)
    clinician = IdField(required=False)
    time_zone = serializers.CharField(required=False, max_length=64)


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.CharField()


class IceServerSerializer(serializers.Serializer):
    """One RTCIceServer: STUN URLs alone, or TURN URLs with short-lived credentials."""

    urls = serializers.ListField(child=serializers.CharField())
    username = serializers.CharField(required=False, help_text="`<expiry unix time>:<user id>`")
    credential = serializers.CharField(required=False)


class MediaSerializer(serializers.Serializer):
    """GET /sessions/{id}/media/ (sessions/media.py); ``url``, ``room`` and ``token`` in LiveKit mode only."""

    mode = serializers.ChoiceField(choices=["mesh", "livekit"])
    ice_servers = IceServerSerializer(many=True)
    expires_at = serializers.DateTimeField(help_text="Ask again before then: the credentials stop working.")
    url = serializers.CharField(required=False)
    room = serializers.CharField(required=False)
    token = serializers.CharField(required=False)
