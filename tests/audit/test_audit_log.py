"""The audit log is append-only and hash-chained; verify_audit finds the first broken link."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client

from audit.models import AppendOnlyError, AuditEntry, AuditVerification
from audit.selectors import first_chain_break
from audit.services import record, record_chain_verification
from tests.conftest import AUDIT_TABLES
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def _entries(n: int) -> list[AuditEntry]:
    return [record(actor=None, action=f"test.event{i}", data={"n": i}) for i in range(n)]


def test_entries_chain_to_each_other() -> None:
    first, second, third = _entries(3)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert first_chain_break() is None
    call_command("verify_audit")


def test_orm_cannot_change_or_delete_entries() -> None:
    [entry] = _entries(1)
    entry.action = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_database_refuses_update_and_delete_from_any_client() -> None:
    [entry] = _entries(1)
    for statement in ("UPDATE audit_auditentry SET action = 'changed'", "DELETE FROM audit_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
            cursor.execute(statement)
    entry.refresh_from_db()
    assert entry.action == "test.event0"


def _tamper(sql: str, params: list[int]) -> None:
    """What an attacker with superuser access could do: bypass the trigger."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def test_verify_audit_reports_a_changed_row() -> None:
    entries = _entries(4)
    _tamper("UPDATE audit_auditentry SET data = '{\"n\": 99}' WHERE seq = %s", [entries[2].seq])
    broken = first_chain_break()
    assert broken is not None and broken.seq == entries[2].seq
    with pytest.raises(CommandError, match=f"#{entries[2].seq}"):
        call_command("verify_audit")


def test_verify_audit_reports_a_removed_row() -> None:
    entries = _entries(4)
    _tamper("DELETE FROM audit_auditentry WHERE seq = %s", [entries[1].seq])
    broken = first_chain_break()
    assert broken is not None and broken.seq == entries[2].seq
    assert "missing" in broken.reason


def test_secrets_and_bodies_are_refused() -> None:
    for key in ("password", "token", "text", "body"):
        with pytest.raises(ValueError):
            record(actor=None, action="x", data={key: "secret"})
    with pytest.raises(ValueError):
        record(actor=None, action="x", data={"nested": {"Password": "secret"}})


def test_login_flow_is_audited_with_request_id_and_ip_but_no_secrets(sam) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "sam", "password": TEST_PASSWORD},
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-123",
    )
    token = response.json()["token"]
    client.post("/api/v1/auth/token/", {"username": "sam", "password": "nope-nope"}, content_type="application/json")
    client.post("/api/v1/auth/logout/", HTTP_AUTHORIZATION=f"Bearer {token}")
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions[-3:] == ["auth.login", "auth.login_failed", "auth.logout"]
    login = AuditEntry.objects.get(action="auth.login")
    assert login.request_id == "req-123" and login.ip == "203.0.113.7" and login.actor == sam
    with connection.cursor() as cursor:
        cursor.execute("SELECT string_agg(t::text, ' ') FROM audit_auditentry t")
        dump = cursor.fetchone()[0]
    assert TEST_PASSWORD not in dump and "nope-nope" not in dump and token not in dump


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_intact() -> None:
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            for n in range(10):
                record(actor=None, action="test.concurrent", data={"writer": index, "n": n})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEntry.objects.count() == 40
    assert first_chain_break() is None


def _refuse_truncate_as_deployed() -> None:
    """tests/conftest.py lets the test database's flush TRUNCATE; put the refusal back
    (this fails if the migration did not create the trigger)."""
    with connection.cursor() as cursor:
        for table in AUDIT_TABLES:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_truncate")


def test_database_refuses_truncate_of_the_log_and_its_checkpoints() -> None:
    _refuse_truncate_as_deployed()  # first: ALTER TABLE waits for no pending FK checks
    _entries(2)
    record_chain_verification(run_key="2026-12-01")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits for the deferred FK checks
    for table in AUDIT_TABLES:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
    assert AuditEntry.objects.count() == 2
    assert AuditVerification.objects.count() == 1


def test_checkpoints_cannot_be_changed_or_deleted() -> None:
    _entries(1)
    record_chain_verification(run_key="2026-12-01")
    for statement in ("UPDATE audit_auditverification SET intact = false", "DELETE FROM audit_auditverification"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


def test_verification_fails_after_the_log_lost_its_tail() -> None:
    entries = _entries(5)
    verification, _ = record_chain_verification(run_key="2026-12-01")
    assert verification.intact and verification.head_seq == entries[-1].seq and verification.entries == 5
    _tamper("DELETE FROM audit_auditentry WHERE seq > %s", [entries[2].seq])  # the chain left is whole
    broken = first_chain_break()
    assert broken is not None and broken.seq == entries[-1].seq and "gone" in broken.reason
    with pytest.raises(CommandError, match=f"#{entries[-1].seq}"):
        call_command("verify_audit")
    later, created = record_chain_verification(run_key="2026-12-02")
    assert created and not later.intact and later.broken_seq == entries[-1].seq


def test_verification_fails_after_the_log_was_emptied() -> None:
    _entries(3)
    record_chain_verification(run_key="2026-12-01")
    _tamper("DELETE FROM audit_auditentry", [])  # what TRUNCATE with the trigger disabled leaves
    with pytest.raises(CommandError, match="gone"):
        call_command("verify_audit")
    assert not record_chain_verification(run_key="2026-12-02")[0].intact


def test_entries_appended_after_a_checkpoint_keep_the_chain_intact() -> None:
    _entries(2)
    record_chain_verification(run_key="2026-12-01")
    _entries(2)
    later, _ = record_chain_verification(run_key="2026-12-02")
    assert later.intact and later.entries == 4
    call_command("verify_audit")
