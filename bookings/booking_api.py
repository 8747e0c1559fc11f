"""Family-session bookings (CONTRACT.md): book with an Idempotency-Key, list and read the
bookings the caller may see, cancel, reschedule."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from bookings import idempotency, services
from bookings.booking_serializers import (
    BookingCancelSerializer,
    BookingCreateSerializer,
    BookingGuardianSerializer,
    BookingRescheduleSerializer,
    BookingSerializer,
)
from bookings.models import Booking
from bookings.visibility import bookings_visible_to
from programs.services import NO_SUCH_PARTICIPANT
from server.api_helpers import request_user, user_or_refusal, validated_body

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "Required, 1-255 visible ASCII characters (a random UUID). The same key and body within 24 h "
        "return the first answer (status and body); the same key with another body is 422."
    ),
)


class BookingViewSet(viewsets.GenericViewSet):
    serializer_class = BookingSerializer
    queryset = Booking.objects.none()
    # Numeric ids only, so /bookings/slots/ and the like are never read as a booking id.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Booking]:
        return (
            bookings_visible_to(request_user(self.request))
            .select_related("session")
            .prefetch_related("session__roster", "session__facilitators")
            .order_by("session__starts_at", "id")
        )

    def get_serializer_context(self) -> dict[str, Any]:
        user = request_user(self.request)
        return {
            **super().get_serializer_context(),
            "time_zone": user.time_zone,
            "staff": user.role in (Role.CLINICIAN, Role.ADMIN),
        }

    def _render(self, booking: Booking, status_code: int = status.HTTP_200_OK) -> Response:
        # Read again through the queryset: fresh session state, roster and hosts prefetched.
        booking = (
            Booking.objects.select_related("session")
            .prefetch_related("session__roster", "session__facilitators")
            .get(pk=booking.pk)
        )
        return Response(BookingSerializer(booking, context=self.get_serializer_context()).data, status=status_code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            BookingSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(BookingSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(
        request=BookingCreateSerializer, responses={201: BookingSerializer}, parameters=[IDEMPOTENCY_KEY_PARAMETER]
    )
    def create(self, request: Request) -> Response:
        return idempotency.replay_or_run(request=request, scope="booking.create", run=lambda: self._book(request))

    def _book(self, request: Request) -> Response:
        data = validated_body(BookingCreateSerializer, request)
        booking = services.book_family_session(
            by=request_user(request),
            clinician=user_or_refusal(data["clinician"], field="clinician", refusal=services.NO_SUCH_CLINICIAN),
            participant=user_or_refusal(data["participant"], field="participant", refusal=NO_SUCH_PARTICIPANT),
            slot_start=data["slot_start"],
        )
        return self._render(booking, status.HTTP_201_CREATED)

    @extend_schema(request=BookingCancelSerializer, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = validated_body(BookingCancelSerializer, request)
        services.cancel_booking(by=request_user(request), booking=booking, reason=data["reason"])
        return self._render(booking)

    @extend_schema(request=BookingRescheduleSerializer, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = validated_body(BookingRescheduleSerializer, request)
        services.reschedule_booking(by=request_user(request), booking=booking, slot_start=data["slot_start"])
        return self._render(booking)

    @extend_schema(request=BookingGuardianSerializer, responses=BookingSerializer)
    @action(detail=True, methods=["post"])
    def guardians(self, request: Request, pk: str) -> Response:
        booking = self.get_object()
        data = validated_body(BookingGuardianSerializer, request)
        guardian = user_or_refusal(data["guardian"], field="guardian", refusal=services.NO_SUCH_GUARDIAN)
        services.add_guardian(by=request_user(request), booking=booking, guardian=guardian)
        return self._render(booking)
