"""Benchmark data: a database and a Redis db of their own, users, live sessions, tickets.

The bench never touches the data of `make run` / `make test`: it derives from DATABASE_URL
the same server with database ``iop_bench`` (dropped and recreated once per `make bench`)
and from REDIS_URL the same server with db 2 (flushed once per run); ``BENCH_DATABASE`` and
``BENCH_REDIS_DB`` name others, so two benches on one server do not drop each other's
data. After ``prepare()`` the bench process itself runs Django against those, so fixtures
are made with the ORM.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DATABASE = os.environ.get("BENCH_DATABASE") or "iop_bench"
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB") or 2)
# Adults: participants need a birth date, and adolescents would bring guardian rules in.
PARTICIPANT_BIRTH_DATE = date(1990, 1, 1)
TIME_ZONE = "America/Chicago"


# --- URLs --------------------------------------------------------------------------------


def database_url_for(url: str, name: str) -> str:
    """The same PostgreSQL server, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def redis_url_for(url: str, db: int) -> str:
    """The same Redis server, another db number: ``redis://host:port/N`` (also rediss://)
    or ``unix:///path/redis.sock?db=N``."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "db"]
    if parts.scheme == "unix":
        query.append(("db", str(db)))
        # urlunsplit would drop the empty authority ("unix:/path"), which redis-py refuses.
        return f"unix://{parts.netloc}{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}", query=urlencode(query)))


# --- The bench environment ---------------------------------------------------------------


@dataclass(frozen=True)
class BenchEnv:
    database_url: str
    redis_url: str

    def child_env(self, **extra: str) -> dict[str, str]:
        """Environment for a process of the project (Daphne, manage.py) on the bench data."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            DJANGO_SETTINGS_MODULE="server.settings",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


_prepared: BenchEnv | None = None


def prepare(*, log: bool = True) -> BenchEnv:
    """Once per process: recreate the bench database, migrate it, flush the bench Redis db,
    point this process at them and set Django up. Later calls return the same BenchEnv."""
    global _prepared
    if _prepared is not None:
        return _prepared
    source_db = os.environ.get("DATABASE_URL", "")
    source_redis = os.environ.get("REDIS_URL", "")
    if not source_db or not source_redis:
        raise SystemExit("DATABASE_URL and REDIS_URL must be set: run through `make bench`.")
    env = BenchEnv(database_url_for(source_db, BENCH_DATABASE), redis_url_for(source_redis, BENCH_REDIS_DB))
    t0 = time.perf_counter()
    recreate_database(env.database_url)
    flush_redis(env.redis_url)
    migrate(env)
    os.environ["DATABASE_URL"] = env.database_url
    os.environ["REDIS_URL"] = env.redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "server.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    setup_django()
    if log:
        print(
            f"   (bench data: database {BENCH_DATABASE}, Redis db {BENCH_REDIS_DB}; "
            f"ready in {time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    _prepared = env
    return env


def setup_django() -> None:
    """Django in this process, on whatever DATABASE_URL / REDIS_URL the environment holds."""
    import django
    from django.apps import apps

    if apps.ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    django.setup()


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = database_name(url)
    with psycopg.connect(database_url_for(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def settle_database(url: str) -> None:
    """VACUUM and CHECKPOINT the bench database, so the rows one side wrote are not
    vacuumed, nor its dirty pages flushed, while the next side is measured (seen here: a
    baseline measured right after the project's 800 lines/s had its commits' p99 grow from
    11-16 ms to over 100 ms)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # a role without pg_checkpoint
            conn.execute("CHECKPOINT")


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def migrate(env: BenchEnv) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=env.child_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"migrating the bench database failed:\n{result.stdout}\n{result.stderr}")


# --- Users and live sessions -------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """One live session and the participants on its roster."""

    session_id: int
    user_ids: tuple[int, ...]


_password_hash: str | None = None


def _password() -> str:
    global _password_hash
    if _password_hash is None:
        from django.contrib.auth.hashers import make_password

        _password_hash = make_password("x")
    return _password_hash


def create_rooms(label: str, count: int, size: int) -> list[Room]:
    """``count`` open individual sessions (admit directly, no waiting room), each with
    ``size`` adult participants on the roster and one lead clinician (not connected)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from measures.models import CheckIn
    from sessions.models import RosterEntry, Session, SessionFacilitator

    password = _password()
    now = timezone.now()
    with transaction.atomic():
        clinician = User.objects.create(
            username=f"bench-{label}-clinician",
            password=password,
            role="clinician",
            time_zone=TIME_ZONE,
        )
        participants = User.objects.bulk_create(
            [
                User(
                    username=f"bench-{label}-p{index}",
                    password=password,
                    role="participant",
                    birth_date=PARTICIPANT_BIRTH_DATE,
                    time_zone=TIME_ZONE,
                )
                for index in range(count * size)
            ]
        )
        sessions = Session.objects.bulk_create(
            [
                Session(
                    kind="individual",
                    title="bench",
                    starts_at=now - timedelta(minutes=5),
                    ends_at=now + timedelta(hours=3),
                    admit_directly=True,
                )
                for _ in range(count)
            ]
        )
        SessionFacilitator.objects.bulk_create(
            [SessionFacilitator(session=session, clinician=clinician, role="lead") for session in sessions]
        )
        rooms: list[Room] = []
        entries: list[RosterEntry] = []
        for index, session in enumerate(sessions):
            members = participants[index * size : (index + 1) * size]
            entries.extend(RosterEntry(session=session, user=user, role="participant") for user in members)
            rooms.append(Room(session_id=session.pk, user_ids=tuple(user.pk for user in members)))
        RosterEntry.objects.bulk_create(entries)
        # Each participant has done the safety check-in a client does before joining (a
        # session without one keeps its participants in the waiting room: issue 26).
        CheckIn.objects.bulk_create(
            CheckIn(
                session_id=entry.session_id,
                participant=entry.user,
                region="NY",
                country="US",
                contact_name="Bench Contact",
                contact_relation="friend",
                contact_phone="+12125550100",
            )
            for entry in entries
        )
    return rooms


def mint_ticket(user_id: int) -> str:
    """A fresh single-use websocket ticket (60 s TTL): mint it right before connecting.
    Needs Django set up in this process (``setup_django()`` with the bench environment)."""
    from accounts.models import User
    from accounts.services import issue_realtime_ticket

    return issue_realtime_ticket(user=User(pk=user_id)).ticket
