"""Levels of care, programs, enrollments and care transitions (clinicians and admins)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from programs import selectors, services
from programs.models import Enrollment, LevelOfCare, Program
from programs.serializers import (
    CareTransitionSerializer,
    CareTransitionWriteSerializer,
    EnrollmentEndSerializer,
    EnrollmentSerializer,
    EnrollmentWriteSerializer,
    LevelOfCareSerializer,
    LevelOfCareUpdateSerializer,
    ProgramSerializer,
    ProgramUpdateSerializer,
    ProgramWriteSerializer,
    WeeklyRequirementSerializer,
)
from server.api_helpers import IsStaffRole, request_user, user_or_refusal, users_or_refusal, validated_body


class LevelOfCareViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = LevelOfCareSerializer
    queryset = LevelOfCare.objects.order_by("rank")
    pagination_class = None

    def list(self, request: Request) -> Response:
        return Response(LevelOfCareSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(LevelOfCareSerializer(self.get_object()).data)

    @extend_schema(request=LevelOfCareUpdateSerializer, responses=LevelOfCareSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        changes = validated_body(LevelOfCareUpdateSerializer, request, partial=True)
        level = services.update_level_of_care(by=request_user(request), level=self.get_object(), changes=changes)
        return Response(LevelOfCareSerializer(level).data)


class ProgramViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = ProgramSerializer
    queryset = Program.objects.select_related("level_of_care").prefetch_related("clinicians").order_by("id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProgramSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ProgramSerializer(self.get_object()).data)

    @extend_schema(request=ProgramWriteSerializer, responses={201: ProgramSerializer})
    def create(self, request: Request) -> Response:
        data = validated_body(ProgramWriteSerializer, request)
        program = services.create_program(by=request_user(request), **data)
        return Response(ProgramSerializer(program).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProgramUpdateSerializer, responses=ProgramSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        changes = dict(validated_body(ProgramUpdateSerializer, request, partial=True))
        if "clinicians" in changes:
            changes["clinicians"] = users_or_refusal(
                changes["clinicians"], field="clinicians", refusal="No such clinician."
            )
        program = services.update_program(by=request_user(request), program=self.get_object(), changes=changes)
        return Response(ProgramSerializer(program).data)


class EnrollmentViewSet(viewsets.GenericViewSet):
    """Admins see every enrollment; clinicians those they are primary clinician for."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = EnrollmentSerializer
    queryset = Enrollment.objects.none()

    def get_queryset(self) -> QuerySet[Enrollment]:
        user = request_user(self.request)
        enrollments = selectors.with_level_code_on(
            Enrollment.objects.select_related("program__level_of_care").order_by("id"), timezone.localdate()
        )
        if user.role == Role.ADMIN:
            return enrollments
        return enrollments.filter(primary_clinician=user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(EnrollmentSerializer(self.get_object()).data)

    @extend_schema(request=EnrollmentWriteSerializer, responses={201: EnrollmentSerializer})
    def create(self, request: Request) -> Response:
        data = validated_body(EnrollmentWriteSerializer, request)
        data["participant"] = user_or_refusal(
            data["participant"], field="participant", refusal=services.NO_SUCH_PARTICIPANT
        )
        data["program"] = get_object_or_404(Program, pk=data["program"])
        data["primary_clinician"] = user_or_refusal(
            data["primary_clinician"], field="primary_clinician", refusal=services.NO_SUCH_CLINICIAN
        )
        enrollment = services.enroll_participant(by=request_user(request), **data)
        return Response(EnrollmentSerializer(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EnrollmentEndSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        data = validated_body(EnrollmentEndSerializer, request)
        enrollment = services.end_enrollment(by=request_user(request), enrollment=self.get_object(), **data)
        return Response(EnrollmentSerializer(enrollment).data)

    @extend_schema(methods=["GET"], request=None, responses=CareTransitionSerializer(many=True))
    @extend_schema(methods=["POST"], request=CareTransitionWriteSerializer, responses={201: CareTransitionSerializer})
    @action(detail=True, methods=["get", "post"])
    def transitions(self, request: Request, pk: str) -> Response:
        enrollment = self.get_object()
        if request.method == "GET":
            history = enrollment.transitions.select_related("from_level", "to_level")
            return Response(CareTransitionSerializer(history, many=True).data)
        data = validated_body(CareTransitionWriteSerializer, request)
        if "clinician" in data:
            data["clinician"] = user_or_refusal(
                data["clinician"], field="clinician", refusal=services.NO_SUCH_CLINICIAN
            )
        transition = services.record_care_transition(by=request_user(request), enrollment=enrollment, **data)
        return Response(CareTransitionSerializer(transition).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("week", OpenApiTypes.STR, description="ISO week, e.g. 2026-W48", required=True)],
        responses=WeeklyRequirementSerializer,
    )
    @action(detail=True, methods=["get"])
    def requirement(self, request: Request, pk: str) -> Response:
        enrollment = self.get_object()
        try:
            year, week = selectors.parse_iso_week(request.query_params.get("week", ""))
        except ValueError as exc:
            raise ValidationError({"week": [str(exc) or "Use an ISO week like 2026-W48."]}) from exc
        requirement = selectors.weekly_requirement(enrollment, year, week)
        return Response(WeeklyRequirementSerializer(requirement).data)
