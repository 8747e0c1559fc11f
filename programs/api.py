"""Levels of care, programs, enrollments and care transitions (clinicians and admins)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ConsentScope, Role, User
from programs import billing_services, selectors, services
from programs.hours import current_week, participant_weekly_hours, program_weekly_hours, risk_order, week_now_in
from programs.models import Enrollment, LevelOfCare, PayerRule, Program
from programs.serializers import (
    CareTransitionSerializer,
    CareTransitionWriteSerializer,
    EnrollmentEndSerializer,
    EnrollmentSerializer,
    EnrollmentWriteSerializer,
    LevelOfCareSerializer,
    LevelOfCareUpdateSerializer,
    PayerRuleSerializer,
    PayerRuleUpdateSerializer,
    ProgramSerializer,
    ProgramUpdateSerializer,
    ProgramWriteSerializer,
    WeeklyHoursSerializer,
    WeeklyRequirementSerializer,
)
from server.api_helpers import IsStaffRole, request_user, user_or_refusal, users_or_refusal, validated_body

WEEK_PARAMETER = OpenApiParameter(
    "week", OpenApiTypes.STR, description="ISO week, e.g. 2026-W48 (default: this week in the program's time zone)"
)
HOURS_SORTS = ("risk", "participant")
NOT_ENROLLED_THAT_WEEK = "This participant was not enrolled in a program that week."


def week_or_none(request: Request) -> tuple[int, int] | None:
    """The ``week`` query parameter as (year, week); absent or empty gives None."""
    text = request.query_params.get("week")
    if not text:
        return None
    try:
        return selectors.parse_iso_week(text)
    except ValueError as exc:
        raise ValidationError({"week": [str(exc)]}) from exc


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


class PayerRuleViewSet(viewsets.GenericViewSet):
    """What payers require of a billable day and week (programs.payer_rules)."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = PayerRuleSerializer
    queryset = PayerRule.objects.order_by("code")
    pagination_class = None

    def list(self, request: Request) -> Response:
        return Response(PayerRuleSerializer(self.get_queryset(), many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PayerRuleSerializer(self.get_object()).data)

    @extend_schema(request=PayerRuleUpdateSerializer, responses=PayerRuleSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        changes = validated_body(PayerRuleUpdateSerializer, request, partial=True)
        rule = billing_services.update_payer_rule(by=request_user(request), rule=self.get_object(), changes=changes)
        return Response(PayerRuleSerializer(rule).data)


class ProgramViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = ProgramSerializer
    queryset = (
        Program.objects.select_related("level_of_care", "payer_rule").prefetch_related("clinicians").order_by("id")
    )

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

    @extend_schema(
        parameters=[
            WEEK_PARAMETER,
            OpenApiParameter("sort", OpenApiTypes.STR, enum=HOURS_SORTS, description="risk (default) or participant"),
        ],
        responses=WeeklyHoursSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def hours(self, request: Request, pk: str) -> Response:
        """Every participant enrolled in the program that week. Risk order: short, at_risk,
        on_track, met, then the largest shortfall first. Its clinicians and admins only."""
        week = week_or_none(request)
        sort = request.query_params.get("sort") or "risk"
        if sort not in HOURS_SORTS:
            raise ValidationError({"sort": [f"Use one of: {', '.join(HOURS_SORTS)}."]})
        program = self.get_object()
        user = request_user(request)
        if user.role != Role.ADMIN and not selectors.works_in(clinician=user, program=program):
            raise PermissionDenied("Only the program's clinicians and admins can see its hours.")
        year, week_number = week or week_now_in(program.time_zone)
        rows = program_weekly_hours(program=program, year=year, week=week_number)
        if sort == "risk":
            rows.sort(key=risk_order)
        return Response(WeeklyHoursSerializer(rows, many=True).data)


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
    # The history is a plain list, never paged (pagination_class=None says so to the schema).
    @action(detail=True, methods=["get", "post"], pagination_class=None)
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


class ParticipantHoursView(APIView):
    """GET /participants/{id}/hours/?week=: the participant's week (CONTRACT.md), for the
    participant, their clinicians, admins, and a guardian while the adolescent's consent
    names ``hours`` (a linked guardian without it: 403; anyone else: 404)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[WEEK_PARAMETER], responses=WeeklyHoursSerializer)
    def get(self, request: Request, pk: int) -> Response:
        week = week_or_none(request)
        participant = User.objects.filter(pk=pk).first()
        if participant is None:
            raise NotFound()
        access = selectors.participant_record_access(
            viewer=request_user(request), participant=participant, scope=ConsentScope.HOURS
        )
        if access == selectors.RecordAccess.NO_CONSENT:
            raise PermissionDenied("The participant's consent does not share their weekly hours.")
        if access != selectors.RecordAccess.VISIBLE:
            raise NotFound()
        week = week or current_week(participant=participant)
        result = None if week is None else participant_weekly_hours(participant=participant, year=week[0], week=week[1])
        if result is None:
            raise NotFound(NOT_ENROLLED_THAT_WEEK)
        return Response(WeeklyHoursSerializer(result).data)
