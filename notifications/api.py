"""The caller's notifications, read state and preferences; failed deliveries for admins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.kinds import NotificationKind
from notifications.models import KindPreference, Notification, NotificationSettings
from notifications.serializers import (
    FailedDeliverySerializer,
    MarkedReadSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    PreferencesStateSerializer,
)
from server.api_helpers import IsProgramAdmin, request_user, validated_body


class NotificationViewSet(viewsets.GenericViewSet):
    """Only the caller's own notifications exist here: anyone else's is a 404."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()

    def get_queryset(self) -> QuerySet[Notification]:
        unread = self.request.query_params.get("unread", "")
        if unread not in ("", "true", "false"):
            raise ValidationError({"unread": ["Use unread=true or unread=false."]})
        return selectors.notifications_of(request_user(self.request), unread_only=unread == "true")

    @extend_schema(parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL)])
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(NotificationSerializer(self.get_object()).data)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = services.mark_read(user=request_user(request), notification=self.get_object())
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"marked_read": services.mark_all_read(user=request_user(request))})


def _preferences_body(user: Any) -> dict[str, Any]:
    settings_row = NotificationSettings.objects.filter(user=user).first()
    quiet = None
    if settings_row is not None and settings_row.quiet_start is not None and settings_row.quiet_end is not None:
        quiet = {"start": settings_row.quiet_start.strftime("%H:%M"), "end": settings_row.quiet_end.strftime("%H:%M")}
    chosen = {pref.kind: pref.email for pref in KindPreference.objects.filter(user=user)}
    reminders = settings.SESSION_REMINDER_OFFSETS_MINUTES
    if settings_row is not None and settings_row.reminder_offsets_minutes is not None:
        reminders = [offset for offset in reminders if offset in settings_row.reminder_offsets_minutes]
    return {
        "quiet_hours": quiet,
        "kinds": {kind: {"in_app": True, "email": chosen.get(kind, True)} for kind in NotificationKind.values},
        "reminders": {"minutes_before": reminders, "choices": settings.SESSION_REMINDER_OFFSETS_MINUTES},
    }


class PreferencesView(APIView):
    @extend_schema(responses={200: PreferencesStateSerializer})
    def get(self, request: Request) -> Response:
        return Response(_preferences_body(request_user(request)))

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesStateSerializer})
    def patch(self, request: Request) -> Response:
        data = validated_body(PreferencesSerializer, request, partial=True)
        quiet: Any = False
        if "quiet_hours" in data:
            quiet = None if data["quiet_hours"] is None else (data["quiet_hours"]["start"], data["quiet_hours"]["end"])
        services.set_preferences(
            user=request_user(request),
            quiet_hours=quiet,
            email_by_kind={kind: pref["email"] for kind, pref in data.get("kinds", {}).items()},
            reminder_offsets=data["reminders"]["minutes_before"] if "reminders" in data else False,
        )
        return Response(_preferences_body(request_user(request)))


class FailedDeliveryViewSet(viewsets.GenericViewSet):
    """Emails given up on after retries: never lost silently, visible to admins."""

    permission_classes = [IsAuthenticated, IsProgramAdmin]
    serializer_class = FailedDeliverySerializer

    def get_queryset(self) -> Any:
        return selectors.failed_deliveries()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FailedDeliverySerializer(page, many=True).data)
