"""Availability (a clinician's own, or any for admins) and free family-session slots."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import availability, selectors
from bookings.models import AvailabilityException, AvailabilityWindow
from bookings.serializers import (
    AvailabilityExceptionSerializer,
    AvailabilityExceptionWriteSerializer,
    AvailabilityWindowSerializer,
    AvailabilityWindowWriteSerializer,
    BookingPolicySerializer,
    BookingPolicyWriteSerializer,
    SlotListSerializer,
    SlotSerializer,
    utc_text,
)
from bookings.slots import MAX_RANGE, booking_policy, free_slots
from server.api_helpers import request_user, validated_body
from server.input_limits import OUT_OF_RANGE, BoundedDateField, IdField, date_in_range, instant_in_range, query_value

DEFAULT_SLOT_RANGE = timedelta(days=14)


# --- Availability -------------------------------------------------------------------------


class BookingPolicyView(APIView):
    """GET / PUT /clinicians/{id}/booking-policy/: the clinician's booking rules (the
    defaults while none are set). PUT replaces all five."""

    @extend_schema(responses=BookingPolicySerializer)
    def get(self, request: Request, pk: int) -> Response:
        clinician = selectors.managed_clinician(viewer=request_user(request), clinician_id=pk)
        return Response(BookingPolicySerializer.of(clinician.pk, booking_policy(clinician)))

    @extend_schema(request=BookingPolicyWriteSerializer, responses=BookingPolicySerializer)
    def put(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        clinician = selectors.managed_clinician(viewer=user, clinician_id=pk)
        data = validated_body(BookingPolicyWriteSerializer, request)
        availability.set_booking_policy(by=user, clinician=clinician, **data)
        return Response(BookingPolicySerializer.of(clinician.pk, booking_policy(clinician)))


class AvailabilityWindowsView(APIView):
    """GET / POST /clinicians/{id}/availability-windows/: weekly windows."""

    @extend_schema(responses=AvailabilityWindowSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        clinician = selectors.managed_clinician(viewer=request_user(request), clinician_id=pk)
        return Response(AvailabilityWindowSerializer(selectors.windows_of(clinician), many=True).data)

    @extend_schema(request=AvailabilityWindowWriteSerializer, responses={201: AvailabilityWindowSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        clinician = selectors.managed_clinician(viewer=user, clinician_id=pk)
        data = validated_body(AvailabilityWindowWriteSerializer, request)
        window = availability.add_window(by=user, clinician=clinician, **data)
        return Response(AvailabilityWindowSerializer(window).data, status=status.HTTP_201_CREATED)


class AvailabilityWindowView(APIView):
    """DELETE /clinicians/{id}/availability-windows/{window_id}/."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, window_id: int) -> Response:
        user = request_user(request)
        clinician = selectors.managed_clinician(viewer=user, clinician_id=pk)
        window = get_object_or_404(AvailabilityWindow, pk=window_id, clinician=clinician)
        availability.remove_window(by=user, window=window)
        return Response(status=status.HTTP_204_NO_CONTENT)


DAY_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First date (default: today in the policy zone)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last date, inclusive (default: none)."),
]


class AvailabilityExceptionsView(APIView):
    """GET / POST /clinicians/{id}/availability-exceptions/: dated time off and extra hours."""

    @extend_schema(parameters=DAY_PARAMETERS, responses=AvailabilityExceptionSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        first_day = query_value(request, "from", BoundedDateField())
        last_day = query_value(request, "to", BoundedDateField())
        clinician = selectors.managed_clinician(viewer=request_user(request), clinician_id=pk)
        if first_day is None:
            first_day = timezone.now().astimezone(booking_policy(clinician).zone).date()
        if last_day is not None and last_day < first_day:
            raise ValidationError({"to": ["`to` must not be before `from`."]})
        exceptions = selectors.exceptions_of(clinician, first_day=first_day, last_day=last_day)
        return Response(AvailabilityExceptionSerializer(exceptions, many=True).data)

    @extend_schema(request=AvailabilityExceptionWriteSerializer, responses={201: AvailabilityExceptionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        clinician = selectors.managed_clinician(viewer=user, clinician_id=pk)
        data = validated_body(AvailabilityExceptionWriteSerializer, request)
        exception = availability.add_exception(
            by=user,
            clinician=clinician,
            kind=data["kind"],
            day=data["date"],
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
        )
        return Response(AvailabilityExceptionSerializer(exception).data, status=status.HTTP_201_CREATED)


class AvailabilityExceptionView(APIView):
    """DELETE /clinicians/{id}/availability-exceptions/{exception_id}/."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, exception_id: int) -> Response:
        user = request_user(request)
        clinician = selectors.managed_clinician(viewer=user, clinician_id=pk)
        exception = get_object_or_404(AvailabilityException, pk=exception_id, clinician=clinician)
        availability.remove_exception(by=user, exception=exception)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Slots --------------------------------------------------------------------------------


def _range_bound(name: str, raw: str | None, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 instant with its offset, or a bare date meaning its midnight in the
    requester's zone (as the sessions list reads them)."""
    if raw is None or raw == "":
        return None
    if len(raw) == 10:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            raise ValidationError({name: ["Use an ISO 8601 date or date-time with offset."]})
        if not date_in_range(day):
            raise ValidationError({name: [OUT_OF_RANGE]})
        return datetime.combine(day, time.min, tzinfo=zone)
    try:
        moment = parse_datetime(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError({name: ["Use an ISO 8601 date or date-time with offset."]})
    if timezone.is_naive(moment):
        raise ValidationError({name: ["Give the UTC offset (for example 2026-11-24T17:00:00-05:00)."]})
    if not instant_in_range(moment):
        raise ValidationError({name: [OUT_OF_RANGE]})
    return moment


def _slot_range(request: Request, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    start = _range_bound("from", request.query_params.get("from"), zone) or now
    end = _range_bound("to", request.query_params.get("to"), zone) or start + DEFAULT_SLOT_RANGE
    if end <= start:
        raise ValidationError({"to": ["`to` must be after `from`."]})
    if end - start > MAX_RANGE:
        raise ValidationError({"to": [f"Ask for at most {MAX_RANGE.days} days at a time."]})
    return start, end


class SlotsView(APIView):
    """GET /bookings/slots/?clinician=&from=&to=: the clinician's free family-session slots
    starting in [from, to), in UTC and in the requester's zone. Default range: from now,
    14 days; at most 60. Staff see any clinician's; participants and guardians those of a
    clinician who treats them or their ward (schedule consent); anyone else 404."""

    @extend_schema(
        parameters=[
            OpenApiParameter("clinician", OpenApiTypes.INT, required=True),
            OpenApiParameter(
                "from", OpenApiTypes.DATETIME, description="Instant with offset, or a date (default: now)."
            ),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Exclusive (default: from + 14 days)."),
        ],
        responses=SlotListSerializer,
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        now = timezone.now()
        start, end = _slot_range(request, ZoneInfo(user.time_zone), now)
        clinician_id = query_value(request, "clinician", IdField())
        if clinician_id is None:
            raise ValidationError({"clinician": ["Give the clinician's id."]})
        clinician = selectors.slots_clinician(viewer=user, clinician_id=clinician_id)
        slots = free_slots(clinician=clinician, start=start, end=end, now=now)
        return Response(
            {
                "clinician": clinician.pk,
                "from": utc_text(start),
                "to": utc_text(end),
                "time_zone": user.time_zone,
                "slots": [SlotSerializer.of(slot, user.time_zone) for slot in slots],
            }
        )
