from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Consent, ConsentScope, GuardianLink, Role, User
from server.api_helpers import StrictCharField


class TokenRequestSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, trim_whitespace=False)
    password = StrictCharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


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
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    time_zone = serializers.CharField(required=False, max_length=64)


class UserUpdateSerializer(serializers.Serializer):
    password = serializers.CharField(required=False, max_length=256, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    birth_date = serializers.DateField(required=False, allow_null=True)
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
    guardian = serializers.IntegerField(min_value=1)
    adolescent = serializers.IntegerField(min_value=1)
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
    link = serializers.IntegerField(min_value=1)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ConsentScope.choices), max_length=len(ConsentScope.values)
    )
