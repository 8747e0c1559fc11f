from __future__ import annotations

import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from server.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def test_unknown_websocket_path_closes_with_4404() -> None:
    communicator = WebsocketCommunicator(application, "/ws/nowhere/?ticket=x", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    output = await communicator.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": 4404}
    await communicator.disconnect()


async def test_websocket_from_a_foreign_origin_is_refused() -> None:
    communicator = WebsocketCommunicator(application, "/ws/nowhere/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()  # as Daphne does; see tests/sessions


async def test_websocket_without_origin_is_refused() -> None:
    communicator = WebsocketCommunicator(application, "/ws/nowhere/")
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()  # as Daphne does; see tests/sessions


@pytest.mark.django_db
def test_access_log_names_the_route_not_the_path_or_query(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="iop.access"):
        Client().get("/healthz?token=very-secret-value")
        Client().get("/api/v1/users/12345/", HTTP_AUTHORIZATION="Bearer not-a-real-token")
    lines = [record.getMessage() for record in caplog.records if record.name == "iop.access"]
    assert any(line.startswith("GET /healthz 200") for line in lines), lines
    assert any("/api/v1/users/" in line and " 401 " in line for line in lines), lines
    text = "\n".join(lines)
    assert "very-secret-value" not in text
    assert "12345" not in text
    assert "not-a-real-token" not in text
