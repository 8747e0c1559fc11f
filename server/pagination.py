"""The API's pages: DRF's limit/offset with a ceiling and strict parameters."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from server.input_limits import MAX_OFFSET, query_value


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """``?limit=`` above API_MAX_PAGE_SIZE is clamped to it (what DRF's ``max_limit`` does),
    so no request reads a whole table. A limit or offset that is not a whole number in
    range is a 400; DRF alone would quietly serve the first page."""

    def get_limit(self, request: Request) -> int | None:
        limit = query_value(request, self.limit_query_param, serializers.IntegerField(min_value=1))
        if limit is None:
            return self.default_limit
        return min(limit, settings.API_MAX_PAGE_SIZE)

    def get_offset(self, request: Request) -> int:
        offset = query_value(
            request, self.offset_query_param, serializers.IntegerField(min_value=0, max_value=MAX_OFFSET)
        )
        return offset or 0
