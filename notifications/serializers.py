from __future__ import annotations

from rest_framework import serializers

from notifications.kinds import NotificationKind
from notifications.models import Delivery, Notification


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])
    end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])


class KindPreferenceSerializer(serializers.Serializer):
    email = serializers.BooleanField()


class RemindersSerializer(serializers.Serializer):
    minutes_before = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=10080), max_length=10, allow_null=True
    )


class PreferencesSerializer(serializers.Serializer):
    quiet_hours = QuietHoursSerializer(allow_null=True, required=False)
    kinds = serializers.DictField(child=KindPreferenceSerializer(), required=False)
    # [] turns session reminders off; null goes back to the default offsets.
    reminders = RemindersSerializer(required=False)

    def validate_quiet_hours(self, value: dict[str, object] | None) -> dict[str, object] | None:
        if value is not None and set(value) != {"start", "end"}:
            raise serializers.ValidationError("Give both start and end (HH:MM), or null to turn quiet hours off.")
        return value

    def validate_reminders(self, value: dict[str, object]) -> dict[str, object]:
        if "minutes_before" not in value:
            raise serializers.ValidationError(
                "Give minutes_before: a list of minutes before a session, [] for no reminders, null for the default."
            )
        return value

    def validate_kinds(self, value: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
        unknown = sorted(set(value) - set(NotificationKind.values))
        if unknown:
            raise serializers.ValidationError([f"Unknown kind {kind!r}." for kind in unknown])
        return value


class KindChannelsSerializer(serializers.Serializer):
    in_app = serializers.BooleanField(help_text="Always true: in-app notifications cannot be turned off.")
    email = serializers.BooleanField()


class RemindersStateSerializer(serializers.Serializer):
    minutes_before = serializers.ListField(child=serializers.IntegerField())
    choices = serializers.ListField(
        child=serializers.IntegerField(), help_text="The offsets the server sends (SESSION_REMINDER_OFFSETS_MINUTES)."
    )


class PreferencesStateSerializer(serializers.Serializer):
    """What GET and PATCH answer: every kind, the reminders kept and those on offer."""

    quiet_hours = QuietHoursSerializer(allow_null=True)
    kinds = serializers.DictField(child=KindChannelsSerializer(), help_text="Keyed by notification kind.")
    reminders = RemindersStateSerializer()


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


class FailedDeliverySerializer(serializers.ModelSerializer):
    recipient = serializers.IntegerField(source="notification.recipient_id")
    kind = serializers.CharField(source="notification.kind")

    class Meta:
        model = Delivery
        fields = ["id", "notification", "recipient", "kind", "channel", "attempts", "last_error", "created_at"]
        read_only_fields = fields
