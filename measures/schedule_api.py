"""A program's questionnaire schedule (admins set it, the program's clinicians read it) and
the questionnaires due for the signed-in participant. Thin views: parse, call one service
or selector, render."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from measures import selectors, services
from measures.models import InstrumentSchedule
from measures.schedule import due_for
from measures.serializers import DueQuestionnaireSerializer, MeasureScheduleInputSerializer, MeasureScheduleSerializer
from programs.models import Program
from server.api_helpers import IsStaffRole, request_user, validated_body


def schedule_body(program: Program, schedule: list[InstrumentSchedule]) -> dict[str, object]:
    rows = [
        {"instrument": row.instrument.code, "at_intake": row.at_intake, "every_days": row.every_days}
        for row in schedule
    ]
    return MeasureScheduleSerializer({"program": program.pk, "instruments": rows}).data


class ProgramMeasureScheduleView(APIView):
    """GET /programs/{id}/measure-schedule/: which questionnaires the program gives, at intake
    and how often after (its clinicians and admins). PUT: an admin replaces it whole
    ([] for none); each instrument known, of the program's age band, once, every 1-90 days."""

    permission_classes = [IsAuthenticated, IsStaffRole]

    @extend_schema(responses=MeasureScheduleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        program = get_object_or_404(Program, pk=pk)
        if not selectors.may_see_program(viewer=request_user(request), program=program):
            raise PermissionDenied("Only the program's clinicians and admins can see its questionnaire schedule.")
        return Response(schedule_body(program, selectors.program_schedule(program=program)))

    @extend_schema(request=MeasureScheduleInputSerializer, responses=MeasureScheduleSerializer)
    def put(self, request: Request, pk: int) -> Response:
        program = get_object_or_404(Program, pk=pk)
        if request_user(request).role != Role.ADMIN:  # before the body: a clinician hears 403, whatever they sent
            raise PermissionDenied("Only program admins can change a program's questionnaire schedule.")
        entries = validated_body(MeasureScheduleInputSerializer, request)["instruments"]
        schedule = services.set_program_schedule(by=request_user(request), program=program, entries=entries)
        return Response(schedule_body(program, schedule))


class DueQuestionnairesView(APIView):
    """GET /assessments/due/: the questionnaires the signed-in participant may answer now,
    each with its items and answer scale ([] when none is due)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DueQuestionnaireSerializer(many=True))
    def get(self, request: Request) -> Response:
        user = request_user(request)
        if user.role != Role.PARTICIPANT:
            raise PermissionDenied("Only participants answer questionnaires, each for themselves.")
        due = sorted(due_for(participant=user), key=lambda item: (item.due_on, item.instrument.code))
        rows = [{"instrument": item.instrument, "due_on": item.due_on} for item in due]
        return Response(DueQuestionnaireSerializer(rows, many=True).data)
