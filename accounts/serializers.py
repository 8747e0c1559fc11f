from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Consent, ConsentScope, GuardianLink, Role, User
from server.api_helpers import StrictCharField
from server.input_limits import BoundedDateField, IdField


class TokenRequestSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    otp = StrictCharField(
        required=False,
        max_length=32,
        help_text="Staff with an authenticator: its current code, or one of their recovery codes.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TotpStartRequestSerializer(serializers.Serializer):
    """Signed in with a bearer token, send nothing. A staff member refused a token with
    ``otp_enrolment_required`` sends their username and password instead."""

    username = StrictCharField(required=False, max_length=150, trim_whitespace=False)
    password = StrictCharField(
        required=False, max_length=256, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("username" in attrs) != ("password" in attrs):
            missing = "password" if "username" in attrs else "username"
            raise serializers.ValidationError({missing: "Send the username and the password together."})
        return attrs


class TotpConfirmRequestSerializer(TotpStartRequestSerializer):
    code = StrictCharField(max_length=32)


class TotpDisableRequestSerializer(serializers.Serializer):
    code = StrictCharField(max_length=32, help_text="A current code from the authenticator, or a recovery code.")


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, for apps that cannot read the URI.")
    otpauth_uri = serializers.CharField(help_text="otpauth://totp/... URI (show it as a QR code).")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Single-use codes for when the authenticator is lost. Shown once."
    )


class TicketResponseSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MeSerializer(serializers.ModelSerializer):
    age_band = serializers.CharField(allow_null=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "role", "age_band", "time_zone", "first_name", "last_name", "email"]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    age_band = serializers.CharField(allow_null=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "role",
            "age_band",
            "birth_date",
            "time_zone",
            "first_name",
            "last_name",
            "email",
            "is_active",
            "date_joined",
        ]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=256, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    birth_date = BoundedDateField(required=False, allow_null=True, default=None)
    time_zone = serializers.CharField(required=False, max_length=64)


class UserUpdateSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, max_length=256, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    birth_date = BoundedDateField(required=False, allow_null=True)
    time_zone = serializers.CharField(required=False, max_length=64)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
        return attrs


class PersonRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]
        read_only_fields = fields


class GuardianLinkSerializer(serializers.ModelSerializer):
    guardian = PersonRefSerializer(read_only=True)
    adolescent = PersonRefSerializer(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = GuardianLink
        fields = ["id", "guardian", "adolescent", "relationship", "created_at", "revoked_at", "active"]
        read_only_fields = fields


class GuardianLinkCreateSerializer(serializers.Serializer):
    guardian = IdField()
    adolescent = IdField()
    relationship = serializers.CharField(required=False, max_length=64, default="parent")


class ConsentSerializer(serializers.ModelSerializer):
    guardian = PersonRefSerializer(source="link.guardian", read_only=True)
    adolescent = PersonRefSerializer(source="link.adolescent", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Consent
        fields = ["id", "link", "guardian", "adolescent", "scopes", "given_at", "revoked_at", "active"]
        read_only_fields = fields


class ConsentCreateSerializer(serializers.Serializer):
    link = IdField()
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ConsentScope.choices),
        allow_empty=False,  # sharing nothing is revoking: POST consents/{id}/revoke/
        max_length=len(ConsentScope.values),
    )
