"""Questionnaires, their answers and trends, item-9 alerts, and the session check-in.
Thin views: parse, call one service or selector, render."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from audit.services import record
from measures import alerts, checkin, selectors, services
from measures.models import Assessment, ClinicalAlert, Instrument
from measures.serializers import (
    AlertSerializer,
    AssessmentCreatedSerializer,
    AssessmentInputSerializer,
    AssessmentResultSerializer,
    AssessmentSerializer,
    AssessmentTotalsSerializer,
    CheckInInputSerializer,
    CheckInReadSerializer,
    CheckInSerializer,
    HistorySerializer,
    InstrumentSerializer,
    NoteSerializer,
    ProgramRowSerializer,
    TrendSerializer,
)
from programs.models import Program
from programs.selectors import RecordAccess
from server.api_helpers import IsStaffRole, request_user, validated_body
from server.errors import error_body
from sessions.selectors import sessions_visible_to


class InstrumentListView(APIView):
    @extend_schema(responses=InstrumentSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(InstrumentSerializer(Instrument.objects.all(), many=True).data)


class AssessmentCreateView(APIView):
    """POST /assessments/: a participant answers a questionnaire due for them. With a risk
    answer the response carries the crisis resources at once."""

    @extend_schema(request=AssessmentInputSerializer, responses={201: AssessmentCreatedSerializer})
    def post(self, request: Request) -> Response:
        body = validated_body(AssessmentInputSerializer, request)
        user = request_user(request)
        if body.get("participant", user.pk) != user.pk:
            raise PermissionDenied("Questionnaires are answered by the participant themself.")
        assessment = services.submit_assessment(
            participant=user, instrument_code=body["instrument"], answers=body["answers"]
        )
        data = dict(AssessmentResultSerializer(assessment).data)
        if assessment.risk:
            data["crisis_resources"] = settings.CRISIS_RESOURCES_TEXT
        return Response(data, status=status.HTTP_201_CREATED)


class ParticipantAssessmentsView(APIView):
    """GET /participants/{id}/assessments/: each instrument's history, change from the first
    score, response and remission. The participant, their clinicians and admins see the
    answers; a guardian totals only, with the ``measures`` scope (else 403 when linked, 404
    otherwise). Every staff read is audited."""

    @extend_schema(responses=HistorySerializer)
    def get(self, request: Request, pk: int) -> Response:
        participant = User.objects.filter(pk=pk).first()
        if participant is None:
            raise NotFound()
        viewer = request_user(request)
        access, view = selectors.history_access(viewer=viewer, participant=participant)
        if access == RecordAccess.NO_CONSENT:
            raise PermissionDenied("The participant's consent does not share their questionnaire scores.")
        if access != RecordAccess.VISIBLE:
            raise NotFound()
        groups = selectors.history(participant=participant)
        firsts = {group["instrument"]: group["first_score"] for group in groups}
        serializer = AssessmentTotalsSerializer if view == selectors.HistoryView.TOTALS else AssessmentSerializer
        if viewer.role in ("clinician", "admin"):
            count = sum(len(group["assessments"]) for group in groups)
            record(actor=viewer, action="assessment.read", target=participant, data={"assessments": count})
        return Response(
            {
                "participant": participant.pk,
                "instruments": [
                    {
                        "instrument": group["instrument"],
                        "assessments": serializer(
                            group["assessments"], many=True, context={"first_scores": firsts}
                        ).data,
                        "trend": TrendSerializer(group["trend"]).data,
                    }
                    for group in groups
                ],
            }
        )


class AssessmentNoteView(APIView):
    permission_classes = [IsAuthenticated, IsStaffRole]

    @extend_schema(request=NoteSerializer, responses=AssessmentResultSerializer)
    def post(self, request: Request, pk: int) -> Response:
        assessment = get_object_or_404(Assessment.objects.select_related("participant", "instrument"), pk=pk)
        note = validated_body(NoteSerializer, request)["note"]
        services.add_note(assessment=assessment, note=note, by=request_user(request))
        return Response(AssessmentResultSerializer(assessment).data)


class ProgramMeasuresView(APIView):
    """GET /programs/{id}/measures/: the latest score and trend per participant and
    instrument, for the program's clinicians and admins (audited)."""

    permission_classes = [IsAuthenticated, IsStaffRole]

    @extend_schema(responses=ProgramRowSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        program = get_object_or_404(Program, pk=pk)
        viewer = request_user(request)
        if not selectors.may_see_program(viewer=viewer, program=program):
            raise NotFound()
        rows = selectors.program_overview(program=program)
        record(actor=viewer, action="assessment.read_program", target=program, data={"rows": len(rows)})
        return Response(ProgramRowSerializer(rows, many=True).data)


class AlertListView(generics.ListAPIView):
    """GET /alerts/[?open=true]: the alerts the caller may act on, newest first, paginated."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[ClinicalAlert]:
        visible = selectors.alerts_visible_to(request_user(self.request))
        if self.request.query_params.get("open") == "true":
            visible = visible.filter(acknowledged_at__isnull=True)
        return visible


class AlertAcknowledgeView(APIView):
    permission_classes = [IsAuthenticated, IsStaffRole]

    @extend_schema(request=NoteSerializer, responses=AlertSerializer)
    def post(self, request: Request, pk: int) -> Response:
        viewer = request_user(request)
        alert = get_object_or_404(selectors.alerts_visible_to(viewer).select_related("participant"), pk=pk)
        note = validated_body(NoteSerializer, request)["note"]
        try:
            acknowledged = alerts.acknowledge(alert=alert, note=note, by=viewer)
        except alerts.AlreadyAcknowledged:
            return Response(
                error_body("conflict", "Someone has already acknowledged this alert."), status=status.HTTP_409_CONFLICT
            )
        return Response(AlertSerializer(acknowledged).data)


class SessionCheckInView(APIView):
    """GET: this session's check-in, else the last one to prefill from (404: none yet).
    POST: check in for this session (201)."""

    @extend_schema(responses=CheckInReadSerializer)
    def get(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        session = get_object_or_404(sessions_visible_to(user), pk=pk)
        last = checkin.last_checkin(participant=user, session=session)
        if last is None:
            raise NotFound("No check-in yet.")
        return Response(CheckInReadSerializer(last, context={"session_id": session.pk}).data)

    @extend_schema(request=CheckInInputSerializer, responses={201: CheckInSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        session = get_object_or_404(sessions_visible_to(user), pk=pk)
        body = validated_body(CheckInInputSerializer, request)
        location, contact = body["location"], body["emergency_contact"]
        data = checkin.CheckInData(
            region=location["region"],
            country=location["country"],
            address=location["address"],
            contact_name=contact["name"],
            contact_relation=contact["relation"],
            contact_phone=contact["phone"],
        )
        stored = checkin.check_in(session=session, participant=user, data=data)
        return Response(CheckInSerializer(stored).data, status=status.HTTP_201_CREATED)
