"""Attendance records of a session (hosts and admins), one record (hosts, admins, and the
person it is about), and a host's override."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from attendance import services
from attendance.models import AttendanceRecord
from attendance.serializers import AttendanceOverrideSerializer, AttendanceRecordSerializer
from server.api_helpers import IsStaffRole, reject_unknown_fields, request_user, validated_body
from sessions.selectors import sessions_visible_to
from sessions.services import ensure_can_manage_sessions_of, session_facilitators


def records_visible_to(user: User) -> QuerySet[AttendanceRecord]:
    """Admins: all. Clinicians: records of sessions they host. Anyone: their own record.
    Guardians see none of their adolescent's (only their own in a family session)."""
    records = AttendanceRecord.objects.select_related("session")
    if not user.is_active:
        return records.none()
    if user.role == Role.ADMIN:
        return records
    if user.role == Role.CLINICIAN:
        return records.filter(session__facilitators__clinician=user)
    return records.filter(user=user)


class SessionAttendanceView(APIView):
    """GET /sessions/{id}/attendance/: every record of the session, for its hosts and admins."""

    permission_classes = [IsAuthenticated, IsStaffRole]

    @extend_schema(responses=AttendanceRecordSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        session = get_object_or_404(sessions_visible_to(user), pk=pk)
        ensure_can_manage_sessions_of(user=user, facilitators=session_facilitators(session))
        records = AttendanceRecord.objects.filter(session=session).order_by("user_id")
        return Response(AttendanceRecordSerializer(records, many=True).data)


class AttendanceRecordViewSet(viewsets.GenericViewSet):
    serializer_class = AttendanceRecordSerializer
    queryset = AttendanceRecord.objects.none()

    def get_queryset(self) -> QuerySet[AttendanceRecord]:
        return records_visible_to(request_user(self.request))

    def get_permissions(self) -> list[Any]:
        # Participants and guardians read their own record; only staff may override.
        if self.action == "partial_update":
            return [IsAuthenticated(), IsStaffRole()]
        return [IsAuthenticated()]

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AttendanceRecordSerializer(self.get_object()).data)

    @extend_schema(request=AttendanceOverrideSerializer, responses=AttendanceRecordSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        record = self.get_object()
        # Not partial: the reason is always required. Unknown keys are refused, not ignored.
        unknown = reject_unknown_fields(AttendanceOverrideSerializer().fields, request.data)
        if unknown:
            raise ValidationError(unknown)
        data = dict(validated_body(AttendanceOverrideSerializer, request))
        reason = data.pop("reason")
        record = services.override_attendance(by=request_user(request), record=record, changes=data, reason=reason)
        return Response(AttendanceRecordSerializer(record).data)
