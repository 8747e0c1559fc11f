"""Attendance records of a session (hosts and admins), a participant's records of a week
(whoever may see their attendance), one record (hosts, the participant's clinicians,
admins, the person it is about, and a guardian the adolescent's consent lets see it), and
a host's override (hosts and admins)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ConsentScope, Role, User
from accounts.selectors import adolescents_visible_to_guardian
from attendance import services
from attendance.models import AttendanceRecord
from attendance.serializers import (
    AttendanceOverrideSerializer,
    AttendanceRecordSerializer,
    GuardianAttendanceRecordSerializer,
)
from programs.api import NOT_ENROLLED_THAT_WEEK, WEEK_PARAMETER, week_or_none
from programs.hours import current_week, enrollment_for_week, week_bounds
from programs.selectors import RecordAccess, participant_record_access, participants_treated_by
from server.api_helpers import IsStaffRole, reject_unknown_fields, request_user, validated_body
from sessions.models import SessionFacilitator
from sessions.selectors import sessions_visible_to
from sessions.services import ensure_can_manage_sessions_of, session_facilitators


def records_visible_to(user: User) -> QuerySet[AttendanceRecord]:
    """Admins: all. Clinicians: records of sessions they host, and every record of the
    participants they treat (programs.selectors.treats: who may list a participant's
    attendance may open each record of that list). Anyone: their own record. Guardians
    also their adolescent's, while the consent in force names ``attendance`` (CLINICAL.md,
    42 CFR Part 2); without it a record is a 404, as an id that names no one: a 403 would
    tell them which ids are their adolescent's. Overriding is for hosts and admins only
    (attendance.services.override_attendance): a treating clinician who does not host gets
    403 there."""
    records = AttendanceRecord.objects.select_related("session")
    if not user.is_active:
        return records.none()
    if user.role == Role.ADMIN:
        return records
    if user.role == Role.CLINICIAN:
        # Subqueries, not a join: a join to the facilitators would repeat a record once
        # per host of its session.
        hosted = SessionFacilitator.objects.filter(clinician=user).values("session_id")
        return records.filter(Q(session__in=hosted) | Q(user__in=participants_treated_by(clinician=user)))
    if user.role == Role.GUARDIAN:
        wards = adolescents_visible_to_guardian(guardian=user, scope=ConsentScope.ATTENDANCE)
        return records.filter(Q(user=user) | Q(user__in=wards))
    return records.filter(user=user)


def serializer_for(viewer: User) -> type[AttendanceRecordSerializer]:
    """A guardian reads a record without the clinician's note (minimum necessary)."""
    return GuardianAttendanceRecordSerializer if viewer.role == Role.GUARDIAN else AttendanceRecordSerializer


class ParticipantAttendanceView(generics.GenericAPIView):
    """GET /participants/{id}/attendance/?week=: the participant's records of the sessions
    starting in the ISO week (their program's time zone, as their weekly hours count them),
    by start, paginated. For whoever may see their attendance: the participant, their
    clinicians, admins, and a guardian while the adolescent's consent names ``attendance``;
    as the hours endpoint, a linked guardian without it gets 403 and anyone else 404."""

    serializer_class = AttendanceRecordSerializer
    queryset = AttendanceRecord.objects.none()

    @extend_schema(parameters=[WEEK_PARAMETER], responses=AttendanceRecordSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        week = week_or_none(request)
        participant = User.objects.filter(pk=pk).first()
        if participant is None:
            raise NotFound()
        viewer = request_user(request)
        access = participant_record_access(viewer=viewer, participant=participant, scope=ConsentScope.ATTENDANCE)
        if access == RecordAccess.NO_CONSENT:
            raise PermissionDenied("The participant's consent does not share their attendance.")
        if access != RecordAccess.VISIBLE:
            raise NotFound()
        week = week or current_week(participant=participant)
        enrollment = None if week is None else enrollment_for_week(participant=participant, year=week[0], week=week[1])
        if week is None or enrollment is None:
            raise NotFound(NOT_ENROLLED_THAT_WEEK)
        start, end = week_bounds(week[0], week[1], enrollment.program.time_zone)
        records = AttendanceRecord.objects.filter(
            user=participant, session__starts_at__gte=start, session__starts_at__lt=end
        ).order_by("session__starts_at", "session_id")
        page = self.paginate_queryset(records)
        return self.get_paginated_response(serializer_for(viewer)(page, many=True).data)


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
        # Participants and guardians read (records_visible_to); only staff may override,
        # and of the staff only the session's hosts and admins (the service checks).
        if self.action == "partial_update":
            return [IsAuthenticated(), IsStaffRole()]
        return [IsAuthenticated()]

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(serializer_for(request_user(request))(self.get_object()).data)

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
