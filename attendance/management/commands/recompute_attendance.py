"""``manage.py recompute_attendance [--since DATE] [--until DATE] [--workers N]``: rewrite
the attendance records of the sessions that started in a date range (UTC dates; all by
default), after a change to the attendance rules or settings, or to fill in history. The
same statement as a session's end (attendance.services.recompute_attendance); records
whose figures did not change are left alone and overrides are never touched."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from attendance.services import RECOMPUTE_BATCH, recompute_attendance
from sessions.models import Session

MAX_WORKERS = 8


class Command(BaseCommand):
    help = "Recompute the attendance records of the sessions that started in a date range."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=date.fromisoformat, help="first start date (UTC), e.g. 2026-09-01")
        parser.add_argument("--until", type=date.fromisoformat, help="last start date (UTC), included")
        parser.add_argument("--workers", type=int, default=1, help=f"batches at once (1 to {MAX_WORKERS})")
        parser.add_argument("--batch", type=int, default=RECOMPUTE_BATCH, help="sessions per statement")

    def handle(self, *args: Any, **options: Any) -> None:
        since: date | None = options["since"]
        until: date | None = options["until"]
        if since and until and until < since:
            raise CommandError("--until is before --since.")
        if not 1 <= options["workers"] <= MAX_WORKERS:
            raise CommandError(f"--workers must be 1 to {MAX_WORKERS}.")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        sessions = Session.objects.all()
        if since:
            sessions = sessions.filter(starts_at__gte=datetime.combine(since, time.min, tzinfo=UTC))
        if until:
            sessions = sessions.filter(starts_at__lt=datetime.combine(until, time.max, tzinfo=UTC))
        ids = list(sessions.order_by("id").values_list("id", flat=True))
        written = recompute_attendance(session_ids=ids, batch=options["batch"], workers=options["workers"])
        self.stdout.write(f"Sessions: {len(ids)}; attendance records written (new or changed): {written}.")
