"""Shared fixtures: service checks, a clean Redis per test, personas and API clients.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL (`make test` starts embedded ones
when those are unset). With REQUIRE_SERVICES=1 an unreachable service fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.db import connection
from knox.models import AuthToken
from pytest_django import DjangoDbBlocker
from rest_framework.test import APIClient

from accounts.models import ConsentScope, User
from server.redis_client import get_redis
from server.ws import db_executor
from tests.factories import ConsentFactory, GuardianLinkFactory, UserFactory

AUDIT_TABLES = ("audit_auditentry", "audit_auditverification")


def _services_down() -> list[str]:
    down = []
    params = {**connection.get_connection_params(), "dbname": "postgres", "connect_timeout": 5}
    try:
        psycopg.connect(**params).close()
    except Exception:
        down.append("postgresql")
    try:
        get_redis().ping()
    except Exception:
        down.append("redis")
    return down


@pytest.fixture(scope="session", autouse=True)
def _services_reachable() -> None:
    down = _services_down()
    if down:
        message = f"services unreachable: {', '.join(down)}"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with an empty Redis database (tickets, throttles, cache)."""
    get_redis().flushdb()
    yield


@pytest.fixture
def ada(db: None) -> User:
    return UserFactory.create(username="ada", admin=True)


@pytest.fixture
def dana(db: None) -> User:
    return UserFactory.create(username="dana")


@pytest.fixture
def theo(db: None) -> User:
    return UserFactory.create(username="theo")


@pytest.fixture
def ava(db: None) -> User:
    return UserFactory.create(username="ava", adolescent=True)


@pytest.fixture
def sam(db: None) -> User:
    return UserFactory.create(username="sam", adult=True)


@pytest.fixture
def pat(ava: User, ada: User) -> User:
    """Guardian of ava, with ava's consent to see her schedule."""
    guardian = UserFactory.create(username="pat", guardian=True)
    link = GuardianLinkFactory.create(guardian=guardian, adolescent=ava, created_by=ada)
    ConsentFactory.create(link=link, scopes=[ConsentScope.SCHEDULE])
    return guardian


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client authenticated as the user with a real bearer token."""

    def make(user: User) -> APIClient:
        _, token = AuthToken.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def db_snapshot(db: None) -> Callable[[], dict[str, int]]:
    """Row counts of every project table, to assert that bad input changed nothing."""

    def snapshot() -> dict[str, int]:
        counts = {}
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                if table.startswith(("django_session", "axes_")):
                    continue
                cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from introspection
                counts[table] = cursor.fetchone()[0]
        return counts

    return snapshot


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> None:
    """Transactional tests end with Django's flush, one TRUNCATE of every table, which the
    audit tables refuse (audit/migrations/0004). The test database lets it through;
    tests/audit turns the refusal back on to test it."""
    if not connection.settings_dict["NAME"].startswith("test_"):
        return  # no test selected uses the database, so none was set up
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_truncate")


@pytest.fixture(scope="session", autouse=True)
def _db_threads_finish_first(django_db_setup: None) -> Iterator[None]:
    """Websocket database work runs on server.ws's thread pool; a call still running when
    the suite ends would hold a connection while the test database is dropped."""
    yield
    db_executor.shutdown(wait=True)
