"""The bounds of every date, instant and number the API takes, in one place.

Python's dates end at year 9999 and PostgreSQL's bigint at 2**63 - 1: a value near either
edge passed the parsers and overflowed later, in date arithmetic or in the database, as a
500. Every date, instant and id the API reads goes through the fields and the query
parser below, so a far or malformed value is a 400 with the error envelope, before any
work is done. The window is wide for any clinical record (birth dates from 1900) and
narrow enough that a year's arithmetic on it cannot overflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
# Ids are PostgreSQL bigints.
MAX_ID = 2**63 - 1
# No list is this long; a larger offset is a mistake, not a page.
MAX_OFFSET = 10**9

OUT_OF_RANGE = f"Use a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."


def date_in_range(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def instant_in_range(moment: datetime) -> bool:
    """An aware instant whose local and UTC dates are both in range. The local date is
    checked first: near year 1 or 9999, converting to UTC would itself overflow."""
    return date_in_range(moment.date()) and date_in_range(moment.astimezone(UTC).date())


class BoundedDateField(serializers.DateField):
    """A date, refused outside EARLIEST_DATE..LATEST_DATE."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value: Any) -> date:
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DD")
        day = super().to_internal_value(value)
        if not date_in_range(day):
            self.fail("out_of_range")
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """An instant, refused outside EARLIEST_DATE..LATEST_DATE (DRF's own field turns a
    far one into a 400 only where converting its zone overflows)."""

    default_error_messages = {"out_of_range": OUT_OF_RANGE}

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        moment = super().to_internal_value(value)
        if not instant_in_range(moment):
            self.fail("out_of_range")
        return moment


class IdField(serializers.IntegerField):
    """A record's id: a whole number from 1 to the largest bigint. Refuses booleans and
    numbers in other forms ("1e3", 1.5) rather than coercing them."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        return super().to_internal_value(data)


def query_value(request: Request, name: str, field: serializers.Field) -> Any:
    """One query parameter parsed by a serializer field; absent or empty gives None, a bad
    value a 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise ValidationError({name: exc.detail}) from exc
