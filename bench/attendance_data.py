"""S8's data set: weeks of group sessions that ended, with the segments the rooms wrote.

Made in PostgreSQL with ``INSERT ... SELECT generate_series`` (the ORM would take minutes
for a million segments). The shape, at full size (10,000 participants, 12 weeks):

- Programs in four time zones (IOP, one OP); levels of care from the migrations' seed. A
  step-down (IOP to OP) halfway through for the IOP enrollments of one participant id in 20.
- Groups of 8 to 12 participants (in turn), each meeting three times a week (Monday,
  Wednesday, Friday, 3 hours, at 9:00, 13:00 or 18:00 local): 1,000 groups, 36,000
  sessions, 360,000 roster entries. Each group has a lead clinician (100 clinicians), who
  leads its sessions and is the primary clinician of its members' enrollments.
- Sessions ended by a host at their end (most), ended early (1 in 30), or never ended by
  anyone (1 in 20: ends_at passed, ended_at empty).
- Per roster entry, from a hash of (session, user): absent (8 %, no segment), taken off the
  roster the day before (1 %, no segment); otherwise on time, late (15 %) and/or leaving
  early (10 %), the time split into 1 to 5 segments with drops between them of 45 s (within
  the 2-minute grace) or 5 minutes (beyond it), a second tab overlapping the first part (30
  %), and the last segment left open by a crashed process (1 %). The lead has one segment
  per session. About 2.8 segments per roster entry (absences included): a million at full size.

Deterministic on a fresh database: the hash is of the rows' ids, so the same sizes give
the same rows there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

GROUP_SIZES = (8, 9, 10, 11, 12)
# (time zone, level of care code) of each program; groups go to them in turn.
PROGRAMS = (
    ("America/New_York", "IOP"),
    ("America/Chicago", "IOP"),
    ("America/Denver", "OP"),
    ("America/Los_Angeles", "IOP"),
)
GROUPS_PER_CLINICIAN = 10
SESSION_MINUTES = 180
# ISO weekday offsets (Monday = 0) and local start times of a group's sessions.
MEETING_DAYS = (0, 2, 4)
START_TIMES = ("09:00", "13:00", "18:00")
# Usernames, program names and group titles start with it (_OWN below relies on "s8").
LABEL = "s8"


@dataclass(frozen=True)
class Size:
    participants: int
    weeks: int

    @property
    def groups(self) -> list[tuple[int, int]]:
        """(first participant index, size) of each group: sizes 8..12 in turn, the last
        group taking whatever is left (at least one)."""
        groups: list[tuple[int, int]] = []
        first = 0
        while first < self.participants:
            size = min(GROUP_SIZES[len(groups) % len(GROUP_SIZES)], self.participants - first)
            groups.append((first, size))
            first += size
        return groups


FULL = Size(participants=10_000, weeks=12)
QUICK = Size(participants=1_000, weeks=4)


@dataclass(frozen=True)
class DataSet:
    first_monday: date
    weeks: int
    program_ids: list[int]
    session_ids: list[int]
    counts: dict[str, int]

    @property
    def iso_weeks(self) -> list[tuple[int, int]]:
        weeks = []
        for index in range(self.weeks):
            year, week, _ = (self.first_monday + timedelta(weeks=index)).isocalendar()
            weeks.append((year, week))
        return weeks


def first_monday_for(weeks: int, now: datetime | None = None) -> date:
    """The Monday ``weeks`` whole weeks before this week's: every session is over."""
    today = (now or datetime.now(UTC)).date()
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks + 1)


def generate(size: Size, *, now: datetime | None = None) -> DataSet:
    """Write the data set into the (empty, migrated) database Django is connected to."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    monday = first_monday_for(size.weeks, now)
    groups = size.groups
    clinicians = -(-len(groups) // GROUPS_PER_CLINICIAN)
    params: dict[str, Any] = {
        "label": LABEL,
        "password": make_password(None),
        "participants": size.participants,
        "clinicians": clinicians,
        "monday": monday,
        "weeks": size.weeks,
        "step_down": monday + timedelta(weeks=size.weeks // 2),
        "planned_end": monday + timedelta(weeks=size.weeks + 1),
        "minutes": SESSION_MINUTES,
        "days": list(MEETING_DAYS),
        "group_first": [first for first, _ in groups],
        "group_size": [group_size for _, group_size in groups],
        "zones": [zone for zone, _ in PROGRAMS],
        "levels": [level for _, level in PROGRAMS],
        "starts": list(START_TIMES),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in _STATEMENTS:
            cursor.execute(with_defaults(statement, params), params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return DataSet(monday, size.weeks, program_ids(), session_ids(), counts())


_INSERT = re.compile(r"^\s*INSERT INTO (\w+) \(([^)]*)\)\s*(SELECT\b.*)$", re.S)


def with_defaults(statement: str, params: dict[str, Any]) -> str:
    """The INSERT with every NOT NULL column it does not name and that has a default in
    the model (a field added after this file was written) given that default, as saving
    through the ORM would. Other statements as they are."""
    from django.apps import apps
    from django.db import connection
    from django.utils import timezone

    match = _INSERT.match(statement)
    if match is None:
        return statement
    table, columns, select = match.groups()
    model = next(model for model in apps.get_models() if model._meta.db_table == table)
    named = {column.strip() for column in columns.split(",")}
    extra: list[str] = []
    for field in model._meta.concrete_fields:
        column = field.column
        if column is None or column in named or field.primary_key or field.null or field.has_db_default():
            continue
        if field.has_default():
            value = field.get_default()
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            continue  # no default: the INSERT fails and says which column
        params[f"default_{table}_{column}"] = field.get_db_prep_save(value, connection)
        extra.append(column)
    if not extra:
        return statement
    values = ", ".join(f"%(default_{table}_{column})s" for column in extra)
    return f"INSERT INTO {table} ({columns}, {', '.join(extra)}) SELECT given.*, {values} FROM ({select}) AS given"


# The data set's own rows: other scenarios' users and sessions may share the database.
# (Run without parameters: a % here is the LIKE wildcard.)
_OWN = {
    "participants": "accounts_user WHERE role = 'participant' AND username LIKE 's8-p%'",
    "groups": "groups_therapygroup WHERE title LIKE 's8-g%'",
    "sessions": "therapy_sessions_session WHERE group_id IN "
    "(SELECT id FROM groups_therapygroup WHERE title LIKE 's8-g%')",
}


def program_ids() -> list[int]:
    return _ids("SELECT id FROM programs_program WHERE name LIKE 's8-%' ORDER BY id")


def session_ids() -> list[int]:
    return _ids(f"SELECT id FROM {_OWN['sessions']} ORDER BY id")


def _ids(sql: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def counts() -> dict[str, int]:
    """Rows of the data set, by table."""
    from django.db import connection

    sessions = f"SELECT id FROM {_OWN['sessions']}"
    queries = {
        "participants": f"SELECT count(*) FROM {_OWN['participants']}",
        "groups": f"SELECT count(*) FROM {_OWN['groups']}",
        "sessions": f"SELECT count(*) FROM {_OWN['sessions']}",
        "roster_entries": f"SELECT count(*) FROM therapy_sessions_rosterentry WHERE session_id IN ({sessions})",
        "segments": f"SELECT count(*) FROM therapy_sessions_attendancesegment WHERE session_id IN ({sessions})",
        "enrollments": "SELECT count(*) FROM programs_enrollment WHERE program_id IN "
        "(SELECT id FROM programs_program WHERE name LIKE 's8-%')",
        "care_transitions": "SELECT count(*) FROM programs_caretransition WHERE reason = 'bench step-down'",
    }
    with connection.cursor() as cursor:
        found = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    return found


# Pseudo-random numbers from a hash of the row's ids: h(a, b, salt) in [0, 1000).
_HASH = "(('x' || substr(md5({a}::text || ':' || {b}::text || ':{salt}'), 1, 7))::bit(28)::int %% 1000)"


def _hash(a: str, b: str, salt: str) -> str:
    return _HASH.format(a=a, b=b, salt=salt)


_STATEMENTS = [
    # An admin (who enrols), the clinicians, the participants.
    """
    INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                               is_active, date_joined, role, birth_date, time_zone)
    SELECT %(password)s, false, %(label)s || '-admin', '', '', '', false, true, now(), 'admin', NULL::date, 'UTC'
    UNION ALL
    SELECT %(password)s, false, %(label)s || '-c' || n, '', '', '', false, true, now(), 'clinician', NULL::date,
           'America/Chicago'
      FROM generate_series(1, %(clinicians)s) n
    UNION ALL
    SELECT %(password)s, false, %(label)s || '-p' || n, '', '', '', false, true, now(), 'participant',
           DATE '1990-01-01', 'America/Chicago'
      FROM generate_series(1, %(participants)s) n
    """,
    """
    INSERT INTO programs_program (name, age_band, time_zone, typical_length_weeks, days_per_week_target,
                                  minutes_per_day_target, created_at, level_of_care_id, forecast_time,
                                  forecast_weekday)
    SELECT %(label)s || '-' || p.n, 'adult', p.zone, 12, 3, 180, now(), loc.id, TIME '12:00', 4
      FROM unnest(%(zones)s::text[], %(levels)s::text[]) WITH ORDINALITY AS p(zone, level, n)
      JOIN programs_levelofcare loc ON loc.code = p.level
    """,
    # Group g (1-based) goes to program g mod 4, its lead is clinician ceil(g / 10).
    """
    CREATE TEMP TABLE s8_group ON COMMIT DROP AS
    SELECT g.n AS number, g.first_index, g.size,
           (SELECT id FROM programs_program WHERE name = %(label)s || '-' || (1 + (g.n - 1) %% 4)) AS program_id,
           (SELECT id FROM accounts_user
             WHERE username = %(label)s || '-c' || (1 + (g.n - 1) / 10)) AS lead_id,
           (%(starts)s::text[])[1 + (g.n - 1) %% 3]::time AS local_start
      FROM unnest(%(group_first)s::int[], %(group_size)s::int[]) WITH ORDINALITY AS g(first_index, size, n)
    """,
    """
    INSERT INTO groups_therapygroup (title, modality, age_band, capacity, created_at, lead_facilitator_id, program_id)
    SELECT %(label)s || '-g' || number, 'group_therapy', 'adult', 12, now(), lead_id, program_id
      FROM s8_group ORDER BY number
    """,
    "ALTER TABLE s8_group ADD COLUMN group_id bigint",
    """
    UPDATE s8_group SET group_id = g.id
      FROM groups_therapygroup g WHERE g.title = %(label)s || '-g' || s8_group.number
    """,
    # Participant i (1-based) is in the group whose range holds i - 1.
    """
    CREATE TEMP TABLE s8_member ON COMMIT DROP AS
    SELECT g.group_id, g.program_id, g.lead_id, u.id AS user_id
      FROM s8_group g
      JOIN generate_series(1, %(participants)s) i ON i - 1 >= g.first_index AND i - 1 < g.first_index + g.size
      JOIN accounts_user u ON u.username = %(label)s || '-p' || i
    """,
    """
    INSERT INTO groups_groupmembership (group_id, participant_id, joined_at, left_at)
    SELECT group_id, user_id, now(), NULL::timestamptz FROM s8_member ORDER BY group_id, user_id
    """,
    """
    INSERT INTO programs_enrollment (start_date, planned_end_date, status, ended_on, medically_stable, detox_status,
                                     stable_living_situation, able_to_attend, eligibility_notes, created_at,
                                     created_by_id, participant_id, primary_clinician_id, program_id)
    SELECT %(monday)s::date, %(planned_end)s::date, 'active', NULL::date, true, 'not_needed', true, true, '', now(),
           (SELECT id FROM accounts_user WHERE username = %(label)s || '-admin'), user_id, lead_id, program_id
      FROM s8_member ORDER BY user_id
    """,
    # One enrollment in 20 steps down from IOP to OP halfway through.
    """
    INSERT INTO programs_caretransition (effective_date, reason, created_at, clinician_id, enrollment_id,
                                         from_level_id, to_level_id)
    SELECT %(step_down)s, 'bench step-down', now(), e.primary_clinician_id, e.id, p.level_of_care_id,
           (SELECT id FROM programs_levelofcare WHERE code = 'OP')
      FROM programs_enrollment e
      JOIN programs_program p ON p.id = e.program_id
      JOIN programs_levelofcare loc ON loc.id = p.level_of_care_id AND loc.code = 'IOP'
     WHERE e.participant_id %% 20 = 0
    """,
    # Each group's sessions: weeks x meeting days, at its local start time in its program's zone.
    """
    INSERT INTO therapy_sessions_session (kind, service, title, starts_at, ends_at, occurrence_date, moved_at,
                                          admit_directly, ended_at, cancelled_at, created_at, group_id, schedule_id)
    SELECT 'group', 'group_therapy', 'bench', o.starts_at, o.ends_at, o.day, NULL::timestamptz, false,
           CASE WHEN o.k %% 20 = 3 THEN NULL
                WHEN o.k %% 30 = 7 THEN o.ends_at - interval '15 minutes'
                ELSE o.ends_at END,
           NULL::timestamptz, now(), o.group_id, NULL::bigint
      FROM (
        SELECT g.group_id, d.day, (d.day + g.local_start) AT TIME ZONE p.time_zone AS starts_at,
               (d.day + g.local_start) AT TIME ZONE p.time_zone + make_interval(mins => %(minutes)s) AS ends_at,
               g.number * 1000 + w * 10 + day_offset AS k
          FROM s8_group g
          JOIN programs_program p ON p.id = g.program_id
          CROSS JOIN generate_series(0, %(weeks)s - 1) w
          CROSS JOIN unnest(%(days)s::int[]) day_offset
          CROSS JOIN LATERAL (SELECT %(monday)s::date + w * 7 + day_offset AS day) d
      ) o
     ORDER BY o.starts_at, o.group_id
    """,
    """
    INSERT INTO therapy_sessions_sessionfacilitator (session_id, clinician_id, role)
    SELECT s.id, g.lead_id, 'lead' FROM therapy_sessions_session s JOIN s8_group g ON g.group_id = s.group_id
    """,
    # The roster: every member; 1 %% taken off the day before.
    f"""
    INSERT INTO therapy_sessions_rosterentry (session_id, user_id, role, added_at, removed_at)
    SELECT s.id, m.user_id, 'participant', s.starts_at - interval '30 days',
           CASE WHEN {_hash("s.id", "m.user_id", "removed")} < 10 THEN s.starts_at - interval '1 day' END
      FROM therapy_sessions_session s JOIN s8_member m ON m.group_id = s.group_id
     ORDER BY s.id, m.user_id
    """,
    # What each roster entry did (see the module docstring); times in seconds from starts_at.
    f"""
    CREATE TEMP TABLE s8_attendance ON COMMIT DROP AS
    SELECT r.session_id, r.user_id, s.starts_at,
           CASE WHEN h.late < 150 THEN 720 + h.late * 7 ELSE -120 + h.late %% 300 END AS from_s,
           least(%(minutes)s * 60 - CASE WHEN h.early < 100 THEN 1200 + h.early * 12 ELSE 0 END,
                 extract(epoch FROM coalesce(s.ended_at, s.ends_at) - s.starts_at)::int) AS to_s,
           1 + h.parts %% 5 AS parts,
           h.parts AS drops,
           h.tab < 300 AS second_tab,
           h.crash < 10 AS crashed
      FROM therapy_sessions_rosterentry r
      JOIN therapy_sessions_session s ON s.id = r.session_id
      CROSS JOIN LATERAL (
        SELECT {_hash("r.session_id", "r.user_id", "absent")} AS absent,
               {_hash("r.session_id", "r.user_id", "late")} AS late,
               {_hash("r.session_id", "r.user_id", "early")} AS early,
               {_hash("r.session_id", "r.user_id", "parts")} AS parts,
               {_hash("r.session_id", "r.user_id", "tab")} AS tab,
               {_hash("r.session_id", "r.user_id", "crash")} AS crash
      ) h
     WHERE r.removed_at IS NULL AND h.absent >= 80
    """,
    # Part i of n covers [from + i * len / n, from + (i + 1) * len / n - drop], the drop
    # 45 s or 5 min by turns from the hash (none after the last part).
    """
    INSERT INTO therapy_sessions_attendancesegment (session_id, user_id, joined_at, left_at, left_reason)
    SELECT a.session_id, a.user_id,
           a.starts_at + make_interval(secs => a.from_s + i * (a.to_s - a.from_s) / a.parts),
           CASE WHEN i = a.parts - 1 AND a.crashed THEN NULL
                ELSE a.starts_at + make_interval(secs => a.from_s + (i + 1) * (a.to_s - a.from_s) / a.parts
                     - CASE WHEN i = a.parts - 1 THEN 0 WHEN (a.drops + i) %% 3 = 0 THEN 300 ELSE 45 END) END,
           CASE WHEN i = a.parts - 1 THEN 'left' ELSE 'dropped' END
      FROM s8_attendance a CROSS JOIN LATERAL generate_series(0, a.parts - 1) i
    UNION ALL
    SELECT a.session_id, a.user_id,
           a.starts_at + make_interval(secs => a.from_s + 600),
           a.starts_at + make_interval(secs => a.from_s + 2400), 'left'
      FROM s8_attendance a WHERE a.second_tab
    UNION ALL
    SELECT s.id, f.clinician_id, s.starts_at - interval '5 minutes', coalesce(s.ended_at, s.ends_at), 'ended'
      FROM therapy_sessions_session s JOIN therapy_sessions_sessionfacilitator f ON f.session_id = s.id
    """,
]
