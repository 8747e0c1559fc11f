"""Sessions (CONTRACT.md), recurring schedules, and the private calendar feed."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from groups.models import TherapyGroup
from programs.services import NO_SUCH_PARTICIPANT
from server.api_helpers import IsProgramAdmin, IsStaffRole, request_user, user_or_refusal, validated_body
from server.errors import error_body
from server.input_limits import OUT_OF_RANGE, date_in_range, instant_in_range
from server.openapi import error_response
from sessions import calendar, media, selectors, services
from sessions.models import RecurringSchedule, Session
from sessions.serializers import (
    CalendarFeedSerializer,
    MediaSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    SessionMoveSerializer,
    SessionSerializer,
    SessionWriteSerializer,
)

DEFAULT_RANGE = timedelta(days=14)
MAX_RANGE = timedelta(days=93)
CALENDAR_HORIZON = timedelta(days=90)


def _parse_bound(name: str, raw: str | None, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 instant with offset, or a date meaning its midnight in the caller's zone."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:  # a bare date; fromisoformat would read it as naive midnight
            day = parse_date(raw)
            if day is None:
                raise ValueError
            if not date_in_range(day):
                raise ValidationError({name: [OUT_OF_RANGE]})
            return datetime.combine(day, time.min, tzinfo=zone)
        moment = parse_datetime(raw)
        if moment is None:
            raise ValueError
    except ValueError as exc:
        raise ValidationError({name: ["Use an ISO 8601 date or date-time with offset."]}) from exc
    if timezone.is_naive(moment):
        raise ValidationError({name: ["Give the UTC offset (for example 2026-11-24T17:00:00-05:00)."]})
    if not instant_in_range(moment):
        raise ValidationError({name: [OUT_OF_RANGE]})
    return moment


def session_range(request: Request, user: User) -> tuple[datetime, datetime]:
    zone = ZoneInfo(user.time_zone)
    start = _parse_bound("from", request.query_params.get("from"), zone)
    end = _parse_bound("to", request.query_params.get("to"), zone)
    if start is None:
        start = datetime.combine(timezone.now().astimezone(zone).date(), time.min, tzinfo=zone)
    if end is None:
        end = start + DEFAULT_RANGE
    if end <= start:
        raise ValidationError({"to": ["`to` must be after `from`."]})
    if end - start > MAX_RANGE:
        raise ValidationError({"to": ["Ask for at most 93 days at a time."]})
    return start, end


class SessionViewSet(viewsets.GenericViewSet):
    """Everyone sees only the sessions they may (sessions.selectors.sessions_visible_to)."""

    serializer_class = SessionSerializer
    queryset = Session.objects.none()
    pagination_class = None

    def get_queryset(self) -> QuerySet[Session]:
        return selectors.sessions_visible_to(request_user(self.request))

    def get_permissions(self) -> list[Any]:
        # Anyone signed in reads what they may see; only clinicians and admins schedule.
        if self.action == "create":
            return [IsAuthenticated(), IsStaffRole()]
        return [IsAuthenticated()]

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "time_zone": request_user(self.request).time_zone}

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="ISO 8601 with offset, or a date"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO 8601 with offset, or a date"),
        ],
        responses=SessionSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        user = request_user(request)
        start, end = session_range(request, user)
        sessions = selectors.sessions_between(user, start, end)
        return Response(SessionSerializer(sessions, many=True, context=self.get_serializer_context()).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SessionSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=SessionWriteSerializer, responses={201: SessionSerializer})
    def create(self, request: Request) -> Response:
        data = validated_body(SessionWriteSerializer, request)
        local = None
        if "local_date" in data:
            local = services.LocalStart(day=data["local_date"], clock=data["local_time"], time_zone=data["time_zone"])
        session = services.create_single_session(
            by=request_user(request),
            kind=data["kind"],
            title=data["title"],
            starts_at=data.get("starts_at"),
            local_start=local,
            ends_at=data.get("ends_at"),
            duration_minutes=data.get("duration_minutes"),
            group=get_object_or_404(TherapyGroup, pk=data["group"]) if "group" in data else None,
            participant=(
                user_or_refusal(data["participant"], field="participant", refusal=NO_SUCH_PARTICIPANT)
                if "participant" in data
                else None
            ),
            clinician=get_object_or_404(User, pk=data["clinician"]) if "clinician" in data else None,
            admit_directly=data["admit_directly"],
            service=data.get("service"),
        )
        return Response(
            SessionSerializer(session, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        session = services.cancel_session(by=request_user(request), session=self.get_object())
        return Response(SessionSerializer(session, context=self.get_serializer_context()).data)

    @extend_schema(request=SessionMoveSerializer, responses=SessionSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        data = validated_body(SessionMoveSerializer, request)
        session = services.move_session(by=request_user(request), session=self.get_object(), **data)
        return Response(SessionSerializer(session, context=self.get_serializer_context()).data)

    @extend_schema(
        responses={
            200: MediaSerializer,
            409: error_response(
                409, "The session is not open (`session_<status>`), or mesh media is full (`sfu_required`)."
            ),
        }
    )
    @action(detail=True, methods=["get"], url_path="media")
    def media(self, request: Request, pk: str) -> Response:
        """ICE servers (and in LiveKit mode an access token) for a person in the live room now.
        The room's door, not the session list: its refusals are the room's (no such session
        404, not allowed in 403, not open 409), not the list's visibility."""
        session = generics.get_object_or_404(Session.objects.all(), pk=pk)
        answer = media.media_settings(session=session, user=request_user(request))
        # Credentials: never cached by a browser or a proxy.
        return Response(answer, headers={"Cache-Control": "no-store"})


class ScheduleViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, IsProgramAdmin]
    serializer_class = ScheduleSerializer
    queryset = RecurringSchedule.objects.order_by("id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ScheduleSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ScheduleSerializer(self.get_object()).data)

    @extend_schema(request=ScheduleWriteSerializer, responses={201: ScheduleSerializer})
    def create(self, request: Request) -> Response:
        data = dict(validated_body(ScheduleWriteSerializer, request))
        if "group" in data:
            data["group"] = get_object_or_404(TherapyGroup, pk=data["group"])
        for name in ("participant", "clinician"):
            if name in data:
                data[name] = get_object_or_404(User, pk=data[name])
        schedule = services.create_schedule(by=request_user(request), **data)
        # Occurrences in the rolling horizon appear at once; beat keeps extending it.
        services.generate_upcoming_sessions()
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        schedule = services.cancel_schedule(by=request_user(request), schedule=self.get_object())
        return Response(ScheduleSerializer(schedule).data)


class CalendarFeedView(APIView):
    """Create (or replace) and revoke the caller's private iCal feed URL."""

    @extend_schema(request=None, responses={201: CalendarFeedSerializer})
    def post(self, request: Request) -> Response:
        token = services.create_calendar_feed(user=request_user(request))
        url = request.build_absolute_uri(reverse("calendar-feed-ics", kwargs={"token": token}))
        return Response({"url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.revoke_calendar_feed(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@require_GET
def calendar_feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """Public by design (calendar apps cannot send a bearer token): the unguessable token
    is the credential, and the events carry no PHI."""
    user = selectors.calendar_feed_owner(token)
    if user is None:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    now = timezone.now()
    sessions = selectors.sessions_between(user, now - timedelta(days=1), now + CALENDAR_HORIZON)
    response = HttpResponse(calendar.render_feed(sessions), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
