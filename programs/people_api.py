"""GET /programs/{id}/participants/ and GET /participants/{id}/clinicians/: the names
behind the ids of the hours, attendance and booking endpoints (programs.people)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ConsentScope, Role, User
from programs import selectors
from programs.models import Program
from programs.people import clinicians_treating, program_participants
from server.api_helpers import IsStaffRole, request_user


class ProgramParticipantSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name"]
        read_only_fields = fields


class TreatingClinicianSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    primary = serializers.BooleanField(help_text="The primary clinician of the participant's enrollment.")

    @staticmethod
    def of(clinician: User, primary: bool) -> dict[str, Any]:
        return {
            "id": clinician.pk,
            "first_name": clinician.first_name,
            "last_name": clinician.last_name,
            "primary": primary,
        }


class ProgramParticipantsView(generics.GenericAPIView):
    """Everyone enrolled in the program (ended enrollments too), by name, paginated: for
    the program's clinicians and admins, as its weekly hours (anyone else 403)."""

    permission_classes = [IsAuthenticated, IsStaffRole]
    serializer_class = ProgramParticipantSerializer

    # A page of participants (the schema would otherwise say one participant).
    @extend_schema(responses=ProgramParticipantSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        program = get_object_or_404(Program, pk=pk)
        user = request_user(request)
        if user.role != Role.ADMIN and not selectors.works_in(clinician=user, program=program):
            raise PermissionDenied("Only the program's clinicians and admins can see its participants.")
        page = self.paginate_queryset(program_participants(program))
        return self.get_paginated_response(ProgramParticipantSerializer(page, many=True).data)


class ParticipantCliniciansView(APIView):
    """The clinicians who treat the participant (the ones whose family-session slots they
    and their guardians may book), the primary one first: for the participant, their
    clinicians, admins, and a linked guardian while the adolescent's consent shares the
    schedule (a linked guardian without it: 403; anyone else: 404, as for no one)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TreatingClinicianSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        participant = User.objects.filter(pk=pk).first()
        if participant is None:
            raise NotFound()
        access = selectors.participant_record_access(
            viewer=request_user(request), participant=participant, scope=ConsentScope.SCHEDULE
        )
        if access == selectors.RecordAccess.NO_CONSENT:
            raise PermissionDenied("The participant's consent does not share their schedule.")
        if access != selectors.RecordAccess.VISIBLE:
            raise NotFound()
        rows = clinicians_treating(participant)
        return Response([TreatingClinicianSerializer.of(clinician, primary) for clinician, primary in rows])
