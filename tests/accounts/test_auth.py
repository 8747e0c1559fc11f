"""Tokens, logout, /me, realtime tickets and the login and API rate limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User
from accounts.selectors import realtime_user
from accounts.services import TicketHolder
from audit.models import AuditEntry
from server.redis_client import get_redis
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
TOKEN_URL = "/api/v1/auth/token/"


def _login(client: APIClient, username: str, password: str = TEST_PASSWORD, ip: str = "10.0.0.1"):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)


def test_login_returns_an_expiring_bearer_token(api: APIClient, sam: User) -> None:
    response = _login(api, "sam")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "sam"
    assert AuditEntry.objects.filter(action="auth.login", actor=sam).count() == 1


@pytest.mark.parametrize(("username", "password"), [("sam", "wrong-password-123"), ("nobody", TEST_PASSWORD)])
def test_wrong_password_or_unknown_user_is_401(
    api: APIClient, sam: User, username: str, password: str, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    before = db_snapshot()
    response = _login(api, username, password)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    after = db_snapshot()
    # Only the failed-login audit entry is added; no token.
    assert after.pop("audit_auditentry") == before.pop("audit_auditentry") + 1
    assert after == before
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.data == {"username": username}
    assert password not in str(entry.data)


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "sam"}, {"username": ["sam"], "password": "x"}, {"username": "sam", "password": 12345}],
)
def test_missing_or_mistyped_fields_are_400(api: APIClient, sam: User, body: dict) -> None:
    response = api.post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_malformed_json_is_400(api: APIClient) -> None:
    response = api.post(TOKEN_URL, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_token_expires(api: APIClient, sam: User) -> None:
    with time_machine.travel(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), tick=False):
        token = _login(api, "sam").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with time_machine.travel(datetime(2026, 11, 24, 20, 59, tzinfo=UTC), tick=False):
        assert api.get("/api/v1/me/").status_code == 200
    with time_machine.travel(datetime(2026, 11, 24, 21, 1, tzinfo=UTC), tick=False):
        response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_bad_or_missing_token_is_401(api: APIClient) -> None:
    assert api.get("/api/v1/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_logout_revokes_the_token_and_closes_sockets(api: APIClient) -> None:
    from tests.factories import UserFactory

    user = UserFactory.create(adult=True)
    token = _login(api, user.username).json()["token"]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{user.pk}", channel)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401
    event = async_to_sync(layer.receive)(channel)
    assert event == {"type": "access.revoked", "reason": "logout"}
    assert AuditEntry.objects.filter(action="auth.logout", actor=user).exists()


@pytest.mark.parametrize(
    ("persona", "role", "band"),
    [("ava", "participant", "adolescent"), ("sam", "participant", "adult"), ("pat", "guardian", None),
     ("dana", "clinician", None), ("ada", "admin", None)],
)  # fmt: skip
def test_me_for_each_role(
    persona: str, role: str, band: str | None, request: pytest.FixtureRequest, client_for: Clients
) -> None:
    user = request.getfixturevalue(persona)
    body = client_for(user).get("/api/v1/me/").json()
    assert body["role"] == role
    assert body["age_band"] == band
    assert body["time_zone"] == "America/New_York"
    assert "password" not in body


def test_realtime_ticket_is_single_use_and_bound_to_the_user(client_for: Clients, sam: User) -> None:
    response = client_for(sam).post("/api/v1/realtime/ticket/")
    assert response.status_code == 200
    ticket = response.json()["ticket"]
    holder = services.consume_realtime_ticket(ticket=ticket)
    assert holder is not None and holder.user_id == sam.pk
    assert services.consume_realtime_ticket(ticket=ticket) is None
    assert services.consume_realtime_ticket(ticket="garbage") is None
    assert services.consume_realtime_ticket(ticket="") is None
    assert services.consume_realtime_ticket(ticket="x" * 500) is None


def test_a_realtime_ticket_is_bound_to_the_token_that_asked_for_it(client_for: Clients, sam: User) -> None:
    """Logout, a password change or deactivation delete the token, and with it what its
    unused tickets would open."""
    client = client_for(sam)
    ticket = client.post("/api/v1/realtime/ticket/").json()["ticket"]
    holder = services.consume_realtime_ticket(ticket=ticket)
    assert holder is not None and holder.token_digest is not None
    assert realtime_user(holder) == sam
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert realtime_user(holder) is None
    # The same user with another live token is still refused: the ticket's token is gone.
    client_for(sam)
    assert realtime_user(holder) is None


def test_a_ticket_of_a_deactivated_user_or_with_an_expired_token_opens_nothing(sam: User) -> None:
    token, _ = AuthToken.objects.create(user=sam)
    holder = TicketHolder(user_id=sam.pk, token_digest=token.digest)
    assert realtime_user(holder) == sam
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert realtime_user(holder) is None
    assert realtime_user(TicketHolder(user_id=sam.pk)) == sam
    User.objects.filter(pk=sam.pk).update(is_active=False)
    assert realtime_user(TicketHolder(user_id=sam.pk)) is None


def test_realtime_ticket_expires_after_60_seconds(client_for: Clients, sam: User) -> None:
    ticket = client_for(sam).post("/api/v1/realtime/ticket/").json()["ticket"]
    keys = get_redis().keys("iop:ticket:*")
    assert len(keys) == 1
    assert 55 <= get_redis().ttl(keys[0]) <= 60
    # Redis stores only a digest, never the ticket itself.
    assert ticket.encode() not in keys[0]
    get_redis().delete(keys[0])  # what expiry does
    assert services.consume_realtime_ticket(ticket=ticket) is None


def test_realtime_ticket_needs_authentication(api: APIClient) -> None:
    assert api.post("/api/v1/realtime/ticket/").status_code == 401


def test_failed_logins_lock_the_account_after_five(api: APIClient, sam: User) -> None:
    # The fifth failure is the last one allowed: it is answered with the lock-out itself.
    codes = [_login(api, "sam", "wrong-password", ip=f"10.1.0.{attempt}").status_code for attempt in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    locked = _login(api, "sam", ip="10.2.0.1")  # right password, another address
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert locked.json()["error"]["code"] == "rate_limited"
    assert AuditEntry.objects.filter(action="auth.login_locked_out").exists()


def test_failed_logins_lock_the_address_after_five(api: APIClient, sam: User) -> None:
    codes = [_login(api, f"someone{n}", "wrong-password", ip="10.9.9.9").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert _login(api, "sam", ip="10.9.9.9").status_code == 429
    assert _login(api, "sam", ip="10.9.9.10").status_code == 200


def test_lockout_ends_after_the_cool_off(api: APIClient, sam: User) -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _login(api, "sam", "wrong-password")
        assert _login(api, "sam").status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert _login(api, "sam").status_code == 200


def test_api_calls_are_rate_limited_per_user(client_for: Clients, sam: User, settings) -> None:
    from rest_framework.throttling import UserRateThrottle

    client = client_for(sam)
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "3/min"}
    try:
        codes = [client.get("/api/v1/me/").status_code for _ in range(4)]
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/me/")  # back to 200/min: counts kept, under the limit
    assert limited.status_code == 200


def test_throttled_response_has_retry_after(client_for: Clients, sam: User) -> None:
    from rest_framework.throttling import UserRateThrottle

    client = client_for(sam)
    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "1/min"}
    try:
        client.get("/api/v1/me/")
        response = client.get("/api/v1/me/")
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "rate_limited"


def test_expired_tokens_are_purged(sam: User) -> None:
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        AuthToken.objects.create(user=sam, expiry=timedelta(hours=1))
    AuthToken.objects.create(user=sam)
    assert services.purge_expired_tokens() == 1
    assert AuthToken.objects.count() == 1
