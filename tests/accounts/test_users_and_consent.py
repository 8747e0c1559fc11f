"""Users (admins only), guardian links and the adolescent's consent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Consent, ConsentScope, GuardianLink, User
from accounts.selectors import guardian_may_see
from audit.models import AuditEntry
from tests.factories import UserFactory, birth_date_for_age

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]
NEW_USER = {"username": "nora", "password": "a-long-enough-passphrase-1", "role": "clinician"}


def test_admin_creates_a_participant(client_for: Clients, ada: User) -> None:
    body = {**NEW_USER, "role": "participant", "birth_date": birth_date_for_age(16).isoformat()}
    response = client_for(ada).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["age_band"] == "adolescent"
    assert "password" not in response.json()
    user = User.objects.get(username="nora")
    assert user.password.startswith("argon2")
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.actor == ada and entry.target_id == str(user.pk)


@pytest.mark.parametrize("persona", ["sam", "pat", "dana"])
def test_non_admins_cannot_manage_users(persona: str, request: pytest.FixtureRequest, client_for: Clients) -> None:
    user = request.getfixturevalue(persona)
    client = client_for(user)
    assert client.get("/api/v1/users/").status_code == 403
    assert client.post("/api/v1/users/", NEW_USER, format="json").status_code == 403
    assert client.post(f"/api/v1/users/{user.pk}/deactivate/").status_code == 403


def test_anonymous_cannot_manage_users(api: APIClient) -> None:
    assert api.get("/api/v1/users/").status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "participant"}, "birth_date"),
        ({"role": "participant", "birth_date": birth_date_for_age(11).isoformat()}, "birth_date"),
        ({"role": "participant", "birth_date": "2090-01-01"}, "birth_date"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"role": "wizard"}, "role"),
        ({"username": "bad name!"}, "username"),
        ({"birth_date": "not-a-date", "role": "participant"}, "birth_date"),
    ],
)
def test_bad_user_input_changes_nothing(
    change: dict[str, object], field: str, client_for: Clients, ada: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    client = client_for(ada)
    before = db_snapshot()
    response = client.post("/api/v1/users/", {**NEW_USER, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_duplicate_username_is_400(client_for: Clients, ada: User, sam: User) -> None:
    response = client_for(ada).post("/api/v1/users/", {**NEW_USER, "username": "SAM"}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["error"]["fields"]


def test_patch_refuses_unknown_fields(client_for: Clients, ada: User, sam: User) -> None:
    response = client_for(ada).patch(f"/api/v1/users/{sam.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 400
    sam.refresh_from_db()
    assert sam.role == "participant"
    ok = client_for(ada).patch(f"/api/v1/users/{sam.pk}/", {"time_zone": "Europe/London"}, format="json")
    assert ok.status_code == 200 and ok.json()["time_zone"] == "Europe/London"


@pytest.mark.django_db(transaction=True)
def test_deactivation_revokes_tokens_and_closes_sockets() -> None:
    admin = UserFactory.create(admin=True)
    target = UserFactory.create(adult=True)
    _, token = AuthToken.objects.create(user=target)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{target.pk}", channel)
    admin_client = APIClient()
    admin_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AuthToken.objects.create(user=admin)[1]}")
    assert admin_client.post(f"/api/v1/users/{target.pk}/deactivate/").status_code == 200
    assert async_to_sync(layer.receive)(channel) == {"type": "access.revoked", "reason": "deactivated"}
    target_client = APIClient()
    target_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert target_client.get("/api/v1/me/").status_code == 401
    assert admin_client.post(f"/api/v1/users/{admin.pk}/deactivate/").status_code == 400


def test_admin_links_a_guardian_to_an_adolescent(client_for: Clients, ada: User, ava: User) -> None:
    guardian = UserFactory.create(guardian=True)
    response = client_for(ada).post(
        "/api/v1/guardian-links/", {"guardian": guardian.pk, "adolescent": ava.pk}, format="json"
    )
    assert response.status_code == 201
    assert AuditEntry.objects.filter(action="guardian_link.create").exists()
    # A link alone shows nothing.
    assert not guardian_may_see(guardian=guardian, adolescent=ava, scope=ConsentScope.SCHEDULE)


def test_guardian_link_to_an_adult_is_refused(
    client_for: Clients, ada: User, sam: User, db_snapshot: Callable[[], dict[str, int]]
) -> None:
    guardian = UserFactory.create(guardian=True)
    client = client_for(ada)
    before = db_snapshot()
    response = client.post("/api/v1/guardian-links/", {"guardian": guardian.pk, "adolescent": sam.pk}, format="json")
    assert response.status_code == 400
    assert "adolescent" in response.json()["error"]["fields"]
    assert db_snapshot() == before


def test_only_admins_link_guardians(client_for: Clients, dana: User, ava: User) -> None:
    guardian = UserFactory.create(guardian=True)
    response = client_for(dana).post(
        "/api/v1/guardian-links/", {"guardian": guardian.pk, "adolescent": ava.pk}, format="json"
    )
    assert response.status_code == 403


def test_adolescent_gives_consent_replacing_the_previous_one(client_for: Clients, ava: User, pat: User) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    old = Consent.objects.get(link=link, revoked_at__isnull=True)
    response = client_for(ava).post(
        "/api/v1/consents/", {"link": link.pk, "scopes": ["schedule", "hours"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.HOURS)
    assert not guardian_may_see(guardian=pat, adolescent=ava, scope=ConsentScope.ATTENDANCE)


@pytest.mark.parametrize("persona", ["pat", "ada", "sam"])
def test_nobody_but_the_adolescent_can_consent(
    persona: str, request: pytest.FixtureRequest, client_for: Clients, ava: User, pat: User, db_snapshot: Callable
) -> None:
    user = request.getfixturevalue(persona)
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    client = client_for(user)
    before = db_snapshot()
    response = client.post("/api/v1/consents/", {"link": link.pk, "scopes": ["hours"]}, format="json")
    assert response.status_code in (403, 404)
    assert response.json()["error"]["code"] in ("permission_denied", "not_found")
    assert db_snapshot() == before


def test_unknown_scope_is_400(client_for: Clients, ava: User, pat: User) -> None:
    link = GuardianLink.objects.get(guardian=pat, adolescent=ava)
    response = client_for(ava).post("/api/v1/consents/", {"link": link.pk, "scopes": ["diagnosis"]}, format="json")
    assert response.status_code == 400


def test_revoking_consent_or_link_ends_access(client_for: Clients, ada: User, ava: User, pat: User) -> None:
    consent = Consent.objects.get(link__guardian=pat, revoked_at__isnull=True)
    assert guardian_may_see(guardian=pat, adolescent=ava, scope="schedule")
    assert client_for(pat).post(f"/api/v1/consents/{consent.pk}/revoke/").status_code == 403
    assert client_for(ava).post(f"/api/v1/consents/{consent.pk}/revoke/").status_code == 200
    assert not guardian_may_see(guardian=pat, adolescent=ava, scope="schedule")
    link = GuardianLink.objects.get(guardian=pat)
    client_for(ava).post("/api/v1/consents/", {"link": link.pk, "scopes": ["schedule"]}, format="json")
    assert guardian_may_see(guardian=pat, adolescent=ava, scope="schedule")
    assert client_for(ada).post(f"/api/v1/guardian-links/{link.pk}/revoke/").status_code == 200
    assert not guardian_may_see(guardian=pat, adolescent=ava, scope="schedule")
    assert {e.action for e in AuditEntry.objects.all()} >= {"consent.give", "consent.revoke", "guardian_link.revoke"}


def test_guardians_see_only_their_own_links(client_for: Clients, pat: User, ava: User) -> None:
    other = UserFactory.create(guardian=True)
    assert client_for(other).get("/api/v1/guardian-links/").json()["count"] == 0
    assert client_for(pat).get("/api/v1/guardian-links/").json()["count"] == 1
    assert client_for(other).get("/api/v1/consents/").json()["count"] == 0
