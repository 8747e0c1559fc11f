"""Billing writes: editing a payer rule, and the billing-day export (a read, but every
export is audited: who, which program and range, how many rows; never the rows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.services import ensure_admin
from audit import services as audit
from programs.billing import BillingDay, billing_days
from programs.models import PayerRule, Program
from server.errors import Conflict
from server.service_helpers import check_editable

# An export covers at most a year, leap years included (from and to both count).
MAX_EXPORT_DAYS = 366
EXPORT_FORMATS = ("csv", "json")

PAYER_RULE_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "billed_per",
        "daily_min_minutes",
        "daily_min_from_program",
        "min_qualifying_days_per_week",
        "weekly_min_minutes",
        "weekly_max_minutes",
    }
)


def update_payer_rule(*, by: User, rule: PayerRule, changes: dict[str, Any]) -> PayerRule:
    """Change a rule's figures (programs.payer_rules says how they are read); audited with
    the names of the fields changed and their new values (figures, no patient data)."""
    ensure_admin(by)
    check_editable(changes, PAYER_RULE_EDITABLE_FIELDS)
    merged = {name: changes.get(name, getattr(rule, name)) for name in PAYER_RULE_EDITABLE_FIELDS}
    if merged["daily_min_from_program"] and merged["daily_min_minutes"] is not None:
        raise ValidationError(
            {"daily_min_minutes": "Give a daily minimum or take the program's (daily_min_from_program), not both."}
        )
    low, high = merged["weekly_min_minutes"], merged["weekly_max_minutes"]
    if low is not None and high is not None and high < low:
        raise ValidationError({"weekly_max_minutes": "The weekly maximum is below the weekly minimum."})
    with transaction.atomic():
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.save()
        audit.record(
            actor=by, action="payer_rule.update", target=rule, data={"fields": sorted(changes), "new": dict(changes)}
        )
    return rule


def check_export_range(*, first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise ValidationError({"to": "`to` is before `from`."})
    if (last_day - first_day).days + 1 > MAX_EXPORT_DAYS:
        raise ValidationError({"to": f"Export at most {MAX_EXPORT_DAYS} days at a time."})


def export_billing_days(
    *, by: User, program: Program, first_day: date, last_day: date, export_format: str
) -> list[BillingDay]:
    """The program's billing days from ``first_day`` to ``last_day`` (local dates,
    inclusive), for an admin, with one audit entry: actor, program, range, format, rule
    and row count. A program without a payer rule has nothing to check days against: 409."""
    ensure_admin(by)
    if export_format not in EXPORT_FORMATS:
        raise ValidationError({"format": f"Use one of: {', '.join(EXPORT_FORMATS)}."})
    check_export_range(first_day=first_day, last_day=last_day)
    rule = program.payer_rule
    if rule is None:
        raise Conflict("This program has no payer rule to check its days against: set one first.", code="no_payer_rule")
    rows = billing_days(program=program, rule=rule, first_day=first_day, last_day=last_day)
    with transaction.atomic():
        audit.record(
            actor=by,
            action="billing.export",
            target=program,
            data={
                "from": first_day.isoformat(),
                "to": last_day.isoformat(),
                "format": export_format,
                "payer_rule": rule.code,
                "row_count": len(rows),
            },
        )
    return rows


# --- Formats ------------------------------------------------------------------------------

COLUMNS = (
    "participant",
    "first_name",
    "last_name",
    "date",
    "attended_minutes",
    "services",
    "day_meets_rule",
    "week",
    "week_attended_minutes",
    "week_qualifying_days",
    "week_meets_rule",
    "billable",
    "short_reason",
)


def row_values(row: BillingDay) -> dict[str, Any]:
    """A row as JSON values, keyed by COLUMNS."""
    return {
        "participant": row.participant_id,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "date": row.date.isoformat(),
        "attended_minutes": row.attended_minutes,
        "services": list(row.services),
        "day_meets_rule": row.day_meets_rule,
        "week": row.week,
        "week_attended_minutes": row.week_attended_minutes,
        "week_qualifying_days": row.week_qualifying_days,
        "week_meets_rule": row.week_meets_rule,
        "billable": row.billable,
        "short_reason": row.short_reason,
    }


def _cell(value: Any) -> str | int:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # A spreadsheet would run a name like "=HYPERLINK(...)" as a formula.
        return "'" + value
    return value


def as_csv(rows: Sequence[BillingDay]) -> str:
    """A header line (COLUMNS), then one line per row; services joined by ';', booleans
    as true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row_values(row)
        writer.writerow([_cell(values[column]) for column in COLUMNS])
    return out.getvalue()
