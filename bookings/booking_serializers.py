"""Bookings in and out of the API. Times are ISO 8601 in the caller's time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import Booking
from server.api_helpers import StrictCharField
from server.input_limits import BoundedDateTimeField, IdField
from sessions.models import Session
from sessions.serializers import LocalDateTimeField


class RosterMemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id")
    role = serializers.CharField()


class FamilySessionSerializer(serializers.ModelSerializer):
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    status = serializers.CharField()
    roster = serializers.SerializerMethodField()
    hosts = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "kind", "starts_at", "ends_at", "status", "roster", "hosts"]
        read_only_fields = fields

    @extend_schema_field(RosterMemberSerializer(many=True))
    def get_roster(self, session: Session) -> list[dict[str, Any]]:
        # From the prefetched rows (bookings.booking_api), not one query per booking.
        entries = sorted((e for e in session.roster.all() if e.removed_at is None), key=lambda e: e.pk)
        return [{"user": entry.user_id, "role": entry.role} for entry in entries]

    @extend_schema_field(RosterMemberSerializer(many=True))
    def get_hosts(self, session: Session) -> list[dict[str, Any]]:
        rows = sorted(session.facilitators.all(), key=lambda row: row.pk)
        return [{"user": row.clinician_id, "role": row.role} for row in rows]


class BookingSerializer(serializers.ModelSerializer):
    starts_at = LocalDateTimeField(source="session.starts_at")
    ends_at = LocalDateTimeField(source="session.ends_at")
    status = serializers.SerializerMethodField()
    created_at = LocalDateTimeField()
    cancelled_at = LocalDateTimeField()
    cancel_reason = serializers.SerializerMethodField()
    session = FamilySessionSerializer()

    class Meta:
        model = Booking
        fields = [
            "id",
            "clinician",
            "participant",
            "booked_by",
            "starts_at",
            "ends_at",
            "status",
            "created_at",
            "cancelled_at",
            "cancel_reason",
            "session",
        ]
        read_only_fields = fields

    def get_status(self, booking: Booking) -> str:
        return "cancelled" if booking.cancelled_at is not None else "booked"

    def get_cancel_reason(self, booking: Booking) -> str | None:
        """Staff only: a clinician's reason may be clinical."""
        return booking.cancel_reason if self.context.get("staff") else None


class AwareDateTimeField(BoundedDateTimeField):
    """An instant with its UTC offset; a bare local time is refused, not read in the
    server's zone (a slot is an instant, and the caller's zone is not the server's)."""

    default_error_messages = {"naive": "Give the time with its UTC offset (for example 2027-03-01T09:00:00-05:00)."}

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class BookingCreateSerializer(serializers.Serializer):
    slot_start = AwareDateTimeField()
    clinician = IdField()
    participant = IdField()


class BookingCancelSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=500, default="")


class BookingRescheduleSerializer(serializers.Serializer):
    slot_start = AwareDateTimeField()


class BookingGuardianSerializer(serializers.Serializer):
    guardian = IdField()
