"""One error envelope everywhere; no-store and security headers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from tests.factories import UserFactory


def _boom(request):
    raise RuntimeError("unexpected")


urlpatterns = [path("boom/", _boom)]
handler500 = "server.errors.handler500"


def _envelope(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404() -> None:
    response = Client().get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert _envelope(response)["code"] == "not_found"


@pytest.mark.django_db
def test_wrong_method_is_a_json_405() -> None:
    response = Client().get("/api/v1/auth/token/")
    assert response.status_code == 405
    assert _envelope(response)["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_validation_error_lists_fields() -> None:
    response = Client().post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 400
    assert set(_envelope(response)["fields"]) == {"username", "password"}


@pytest.mark.django_db
def test_unsupported_media_type_is_415() -> None:
    response = Client().post("/api/v1/auth/token/", "username=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert _envelope(response)["code"] == "unsupported_media_type"


@pytest.mark.urls("tests.server.test_errors_and_headers")
@pytest.mark.django_db
def test_server_error_is_a_json_500_without_details() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    error = _envelope(response)
    assert error["code"] == "server_error"
    assert "unexpected" not in response.content.decode()


@pytest.mark.django_db
def test_api_and_authenticated_responses_are_not_cached(client_for) -> None:
    user = UserFactory.create(adult=True)
    response = client_for(user).get("/api/v1/me/")
    assert response["Cache-Control"] == "no-store"
    assert Client().get("/api/v1/nothing/")["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_security_headers() -> None:
    response = Client().get("/healthz")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Request-ID"]
