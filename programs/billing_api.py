"""GET /api/v1/programs/{id}/billing/?from=&to=&format=csv|json: the billing-day export
(programs.billing; definitions in programs.payer_rules). Admins only; each export audited."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from programs import billing_services
from programs.billing_services import EXPORT_FORMATS, MAX_EXPORT_DAYS, as_csv, row_values
from programs.models import Program
from programs.serializers import BillingDaySerializer
from server.api_helpers import IsProgramAdmin, request_user
from server.input_limits import BoundedDateField, query_value
from server.openapi import error_response

EXPORT_RESPONSE = inline_serializer(
    "BillingExport",
    fields={
        "program": serializers.IntegerField(),
        "payer_rule": serializers.CharField(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "rows": BillingDaySerializer(many=True),
    },
)

EXPORT_DESCRIPTION = "JSON with format=json (the default); with format=csv, a header line and the rows, same columns"


class ProgramBillingView(APIView):
    """One row per participant and day with attended time in the range: attended minutes
    (overrides applied), services, whether the day and its ISO week meet the program's
    payer rule, and why not. ``from``/``to``: local dates, inclusive, at most a year."""

    permission_classes = [IsAuthenticated, IsProgramAdmin]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # ``format`` names the export's format here, not a DRF renderer (which would answer
        # an unknown one with a 404, and write errors as CSV): answers and errors are JSON,
        # and the CSV body is written by the view.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First local date"),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, required=True, description=f"Last local date (at most {MAX_EXPORT_DAYS} days)"
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=EXPORT_FORMATS, description="json (default) or csv"),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(EXPORT_RESPONSE, description=EXPORT_DESCRIPTION),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=EXPORT_DESCRIPTION),
            409: error_response(409, "The program has no payer rule (`no_payer_rule`)."),
        },
    )
    def get(self, request: Request, pk: int) -> Any:
        first_day = query_value(request, "from", BoundedDateField())
        last_day = query_value(request, "to", BoundedDateField())
        export_format = query_value(request, "format", serializers.ChoiceField(choices=EXPORT_FORMATS)) or "json"
        if first_day is None or last_day is None:
            bounds = (("from", first_day), ("to", last_day))
            raise ValidationError({name: ["Give a date (YYYY-MM-DD)."] for name, day in bounds if day is None})
        program = get_object_or_404(Program.objects.select_related("payer_rule"), pk=pk)
        rows = billing_services.export_billing_days(
            by=request_user(request),
            program=program,
            first_day=first_day,
            last_day=last_day,
            export_format=export_format,
        )
        if export_format == "csv":
            response = HttpResponse(as_csv(rows), content_type="text/csv; charset=utf-8")
            name = f"billing-program-{program.pk}-{first_day.isoformat()}-{last_day.isoformat()}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        assert program.payer_rule is not None  # the export refuses a program without one
        return Response(
            {
                "program": program.pk,
                "payer_rule": program.payer_rule.code,
                "from": first_day.isoformat(),
                "to": last_day.isoformat(),
                "rows": [row_values(row) for row in rows],
            }
        )
