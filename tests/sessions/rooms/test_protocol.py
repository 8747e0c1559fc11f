"""docs/websocket-protocol.md and docs/websocket-protocol.schema.json say what the frame
models say: regenerate them with `make protocol` after changing a frame."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema

from sessions.rooms import events, frames, protocol


def test_the_published_schema_is_the_models_schema() -> None:
    assert json.loads(protocol.SCHEMA_PATH.read_text()) == protocol.json_schema(), "run `make protocol`"


def test_the_protocol_document_holds_the_current_frame_reference() -> None:
    document = protocol.DOC_PATH.read_text()
    assert protocol.document_with_reference(document) == document, "run `make protocol`"


def test_every_frame_type_is_in_the_document() -> None:
    document = protocol.DOC_PATH.read_text()
    for model in (*frames.MODELS, *protocol.SERVER_FRAMES):
        for name in protocol.type_names(model):
            assert f"`{name}`" in document, name


def test_the_published_schema_accepts_real_frames_and_refuses_others() -> None:
    """Checked with a JSON Schema validator, as a client developer would use the file."""
    schema = json.loads(protocol.SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    line = events.chat_line(
        message_id=7, user={"id": 3, "name": "Ava", "role": "participant"}, text="hi",
        sent_at=datetime(2026, 12, 6, 17, 0, tzinfo=UTC),
        client_id="c-1", breakout=None,
    )  # fmt: skip
    good = [
        {"type": "chat.send", "text": "hello", "client_id": "c-1"},
        {"type": "host.admit", "all": True},
        events.with_seq(events.chat_message(line), 12),
        events.chat_history([line]),
        events.error("invalid", "text: too long"),
        events.with_seq(events.breakout_opened({1: [3, 4]}), 13),
    ]
    for frame in good:
        assert validator.is_valid(frame), list(validator.iter_errors(frame))
    bad = [
        {"type": "chat.send", "text": "hello"},  # no client_id
        {"type": "chat.message", **line},  # a broadcast without its seq
        {"type": "pong", "extra": 1},
        {"type": "no.such.frame"},
    ]
    for frame in bad:
        assert not validator.is_valid(frame), frame
