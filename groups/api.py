"""Therapy groups and their membership (admins; a group's lead manages its members)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from groups import services
from groups.models import TherapyGroup
from groups.serializers import (
    MembershipSerializer,
    MembershipWriteSerializer,
    TherapyGroupSerializer,
    TherapyGroupUpdateSerializer,
    TherapyGroupWriteSerializer,
)
from programs.models import Program
from programs.services import NO_SUCH_CLINICIAN, NO_SUCH_PARTICIPANT
from server.api_helpers import IsStaffRole, request_user, user_or_refusal, users_or_refusal, validated_body


def _lead(pk: int) -> User:
    return user_or_refusal(pk, field="lead_facilitator", refusal=NO_SUCH_CLINICIAN)


def _co_facilitators(ids: list[int]) -> list[User]:
    return users_or_refusal(ids, field="co_facilitators", refusal=NO_SUCH_CLINICIAN)


class TherapyGroupViewSet(viewsets.GenericViewSet):
    """Admins see every group; clinicians the groups they lead or co-facilitate."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = TherapyGroupSerializer
    queryset = TherapyGroup.objects.none()

    def get_queryset(self) -> QuerySet[TherapyGroup]:
        user = request_user(self.request)
        groups = (
            TherapyGroup.objects.annotate(
                member_count=Count("memberships", filter=Q(memberships__left_at__isnull=True))
            )
            .prefetch_related("co_facilitators")
            .order_by("id")
        )
        if user.role == Role.ADMIN:
            return groups
        return groups.filter(Q(lead_facilitator=user) | Q(co_facilitators=user)).distinct()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TherapyGroupSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TherapyGroupSerializer(self.get_object()).data)

    @extend_schema(request=TherapyGroupWriteSerializer, responses={201: TherapyGroupSerializer})
    def create(self, request: Request) -> Response:
        data = validated_body(TherapyGroupWriteSerializer, request)
        group = services.create_group(
            by=request_user(request),
            program=get_object_or_404(Program, pk=data["program"]),
            title=data["title"],
            modality=data["modality"],
            lead_facilitator=_lead(data["lead_facilitator"]),
            co_facilitators=_co_facilitators(data.get("co_facilitators", [])),
            capacity=data["capacity"],
        )
        return Response(
            TherapyGroupSerializer(self.get_queryset().get(pk=group.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=TherapyGroupUpdateSerializer, responses=TherapyGroupSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        changes: dict[str, Any] = dict(validated_body(TherapyGroupUpdateSerializer, request, partial=True))
        if "lead_facilitator" in changes:
            changes["lead_facilitator"] = _lead(changes["lead_facilitator"])
        if "co_facilitators" in changes:
            changes["co_facilitators"] = _co_facilitators(changes["co_facilitators"])
        group = services.update_group(by=request_user(request), group=self.get_object(), changes=changes)
        return Response(TherapyGroupSerializer(self.get_queryset().get(pk=group.pk)).data)

    @extend_schema(methods=["GET"], request=None, responses=MembershipSerializer(many=True))
    @extend_schema(methods=["POST"], request=MembershipWriteSerializer, responses={201: MembershipSerializer})
    # The active members are a plain list, never paged (pagination_class=None says so to the schema).
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def members(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        if request.method == "GET":
            active = group.memberships.filter(left_at__isnull=True).order_by("id")
            return Response(MembershipSerializer(active, many=True).data)
        data = validated_body(MembershipWriteSerializer, request)
        participant = user_or_refusal(data["participant"], field="participant", refusal=NO_SUCH_PARTICIPANT)
        membership = services.add_member(by=request_user(request), group=group, participant=participant)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipWriteSerializer, responses=MembershipSerializer)
    @action(detail=True, methods=["post"], url_path="members/remove")
    def remove_member(self, request: Request, pk: str) -> Response:
        group = self.get_object()
        data = validated_body(MembershipWriteSerializer, request)
        membership = services.remove_member_by_id(
            by=request_user(request), group=group, participant_id=data["participant"]
        )
        return Response(MembershipSerializer(membership).data)
