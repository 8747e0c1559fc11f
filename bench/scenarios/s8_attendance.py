"""S8: attendance and weekly hours over 10,000 participants x 12 weeks (issue 21, item 8).

The data set (bench/attendance_data.py) is written straight into PostgreSQL: 36,000 ended
group sessions, 360,000 roster entries, about a million segments. Then, timed:

- bare: one SQL GROUP BY over the same segments, the sum of each (session, person)'s
  segment lengths clipped to the session (no union, no grace merge, nothing written),
  fetched into the bench process, as PostgreSQL plans it (its 2 parallel workers). Three
  times, between the project's phases; the median is compared;
- first compute: every session's attendance records written through the product's own
  path (attendance.services.recompute_attendance: the statement the live path runs for
  one session, RECOMPUTE_BATCH sessions a statement, WORKERS statements at once) into an
  empty table;
- full recompute: the same again, the records already there: the recompute;
- one worker: the recompute again with one statement at a time (reference);
- weekly hours: programs.hours.program_weekly_hours for every program and week of the
  data set (120,000 participant-weeks, as the program-wide view reads them). Nothing is
  stored: the hours are read from the records, so they are timed beside the recompute;
- incremental: one session ending on top of the whole data set, 20 sessions of the last
  week one after another, their records first deleted as if they had never ended:
  attendance.services.record_session_attendance (the Celery task's path), then again.

Targets: the recompute <= 5x the bare figure, and with the weekly hours <= 60 s; the
slowest incremental <= 200 ms. The first compute is reported against the same targets.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from bench import attendance_data, fixtures
from bench.report import Figures, compare, failed, rounded, target
from bench.scenarios.base import Scenario, register

FULL_SECONDS = 60.0
FULL_RATIO = 5.0
INCREMENTAL_MS = 200.0
INCREMENTAL_SESSIONS = 20
# Batches run at once by the recompute, each on a connection of its own: the bare query's
# plan has PostgreSQL's default 2 parallel workers beside its leader.
WORKERS = 2

# The bare GROUP BY: the segments of the data set's sessions, clipped as the product clips
# them, summed per (session, person). Overlaps count twice and drops are not merged: the
# least any attendance computation must read.
BARE_SQL = """
SELECT seg.session_id,
       seg.user_id,
       sum(least(coalesce(seg.left_at, s.ended_at, %(now)s), s.ends_at) - greatest(seg.joined_at, s.starts_at))
  FROM therapy_sessions_attendancesegment seg
  JOIN therapy_sessions_session s ON s.id = seg.session_id
 WHERE s.id = ANY(%(session_ids)s)
   AND greatest(seg.joined_at, s.starts_at) < least(coalesce(seg.left_at, s.ended_at, %(now)s), s.ends_at)
 GROUP BY seg.session_id, seg.user_id
"""


def run(quick: bool = False) -> Figures:
    env = fixtures.prepare()
    size = attendance_data.QUICK if quick else attendance_data.FULL
    figures: Figures = {"s8_load_avg_1m_start": _load()}
    t0 = time.perf_counter()
    data = attendance_data.generate(size)
    figures["s8_generate_s"] = rounded(time.perf_counter() - t0, 2)
    figures.update({f"s8_{name}": count for name, count in data.counts.items()})
    figures["s8_weeks"] = data.weeks
    figures["s8_programs"] = len(data.program_ids)
    fixtures.settle_database(env.database_url)
    try:
        _measure(figures, data)
    except Exception as exc:
        failed(figures, "s8_error", exc)
    figures["s8_load_avg_1m_end"] = _load()
    return figures


def _measure(figures: Figures, data: attendance_data.DataSet) -> None:
    from attendance.services import RECOMPUTE_BATCH, recompute_attendance

    sessions = data.session_ids
    figures["s8_recompute_batch_sessions"] = RECOMPUTE_BATCH
    figures["s8_recompute_workers"] = WORKERS
    recompute = partial(recompute_attendance, session_ids=sessions, workers=WORKERS)
    bare = [_timed(partial(_bare, sessions, figures))]
    first_s = _timed(partial(_written, figures, "s8_first_compute", recompute))
    bare.append(_timed(partial(_bare, sessions, figures)))
    recompute_s = _timed(partial(_written, figures, "s8_full_recompute", recompute))
    bare.append(_timed(partial(_bare, sessions, figures)))
    serial_s = _timed(partial(recompute_attendance, session_ids=sessions))
    hours_s = _timed(partial(_weekly_hours, figures, data))
    _record_figures(figures, sessions)

    bare_s = statistics.median(bare)
    figures["s8_bare_runs_s"] = [rounded(value) for value in bare]
    for key, seconds in (("s8_full_recompute_s", recompute_s), ("s8_first_compute_s", first_s)):
        compare(figures, key, seconds, bare_s, at_most=FULL_RATIO, names=("project", "bare"))
    compare(figures, "s8_full_recompute_one_worker_s", serial_s, bare_s, names=("project", "bare"))
    figures["s8_weekly_hours_s"] = rounded(hours_s)
    figures["s8_weekly_hours_per_program_week_ms"] = rounded(hours_s * 1000 / (len(data.program_ids) * data.weeks), 1)
    for key, seconds in (("s8_full_recompute_with_hours_s", recompute_s), ("s8_first_compute_with_hours_s", first_s)):
        figures[key] = rounded(seconds + hours_s)
        target(figures, key, seconds + hours_s <= FULL_SECONDS, f"<= {FULL_SECONDS:.0f} s")
    _incremental(figures, sessions)


def _written(figures: Figures, key: str, step: Callable[[], int]) -> None:
    figures[f"{key}_records_written"] = step()


def _record_figures(figures: Figures, sessions: Sequence[int]) -> None:
    from attendance.models import AttendanceRecord

    statuses = AttendanceRecord.objects.filter(session_id__in=sessions).values_list("status", flat=True)
    counted = Counter(statuses)
    figures["s8_records"] = sum(counted.values())
    figures["s8_record_statuses"] = dict(sorted(counted.items()))


def _bare(session_ids: Sequence[int], figures: Figures) -> None:
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(BARE_SQL, {"session_ids": list(session_ids), "now": timezone.now()})
        figures["s8_bare_rows"] = len(cursor.fetchall())


def _weekly_hours(figures: Figures, data: attendance_data.DataSet) -> None:
    """Every participant-week of every program, as the program-wide view reads it."""
    from programs.hours import program_weekly_hours
    from programs.models import Program

    statuses: Counter[str] = Counter()
    rows = 0
    for program in Program.objects.filter(pk__in=data.program_ids).select_related("level_of_care"):
        for year, week in data.iso_weeks:
            weeks = program_weekly_hours(program=program, year=year, week=week)
            rows += len(weeks)
            statuses.update(hours.status.value for hours in weeks)
    figures["s8_weekly_hours_rows"] = rows
    figures["s8_weekly_hours_statuses"] = dict(sorted(statuses.items()))


def _incremental(figures: Figures, sessions: Sequence[int]) -> None:
    """Sessions of the last week ending one at a time: their records deleted first, so the
    task writes them as it does when a session ends."""
    from attendance.models import AttendanceRecord, AttendanceRun
    from attendance.services import record_session_attendance
    from sessions.models import Session

    last = Session.objects.filter(pk__in=sessions).order_by("-starts_at", "-id").values_list("id", flat=True)
    chosen = list(last[: INCREMENTAL_SESSIONS * 7])[::7]
    AttendanceRecord.objects.filter(session_id__in=chosen).delete()
    AttendanceRun.objects.filter(session_id__in=chosen).delete()
    first = [_timed(partial(record_session_attendance, session_id=session_id)) for session_id in chosen]
    again = [_timed(partial(record_session_attendance, session_id=session_id)) for session_id in chosen]
    figures["s8_incremental_sessions"] = len(chosen)
    figures["s8_incremental_median_ms"] = rounded(statistics.median(first) * 1000, 2)
    figures["s8_incremental_max_ms"] = rounded(max(first) * 1000, 2)
    figures["s8_incremental_again_median_ms"] = rounded(statistics.median(again) * 1000, 2)
    figures["s8_incremental_again_max_ms"] = rounded(max(again) * 1000, 2)
    worst = max(first + again) * 1000
    target(figures, "s8_incremental_ms", worst <= INCREMENTAL_MS, f"slowest <= {INCREMENTAL_MS:.0f} ms")


def _timed(step: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def _load() -> float:
    return round(os.getloadavg()[0], 2)


SCENARIO = register(
    Scenario(
        name="s8",
        description="attendance records and weekly hours: 10,000 participants x 12 weeks vs a bare GROUP BY",
        run=run,
    )
)
