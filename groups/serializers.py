from __future__ import annotations

from rest_framework import serializers

from groups.models import MAX_GROUP_CAPACITY, GroupMembership, Modality, TherapyGroup
from server.input_limits import IdField


class TherapyGroupSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TherapyGroup
        fields = [
            "id",
            "program",
            "title",
            "modality",
            "age_band",
            "capacity",
            "lead_facilitator",
            "co_facilitators",
            "member_count",
        ]
        read_only_fields = fields


class TherapyGroupWriteSerializer(serializers.Serializer):
    program = IdField()
    title = serializers.CharField(max_length=200)
    modality = serializers.ChoiceField(choices=Modality.choices)
    lead_facilitator = IdField()
    co_facilitators = serializers.ListField(child=IdField(), required=False, max_length=5)
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GROUP_CAPACITY, default=12)


class TherapyGroupUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    modality = serializers.ChoiceField(required=False, choices=Modality.choices)
    lead_facilitator = IdField(required=False)
    co_facilitators = serializers.ListField(child=IdField(), required=False, max_length=5)
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GROUP_CAPACITY)


class MembershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupMembership
        fields = ["id", "group", "participant", "joined_at", "left_at"]
        read_only_fields = fields


class MembershipWriteSerializer(serializers.Serializer):
    participant = IdField()
