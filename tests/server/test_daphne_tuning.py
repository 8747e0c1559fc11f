"""The web process's server set-up (server/serve.py, server/daphne_tuning.py): Daphne's
reactor on uvloop, and TCP writes sent at once instead of on the next loop pass, with
nothing lost, reordered or raised when the kernel takes only part of a write or the peer
has gone; and a room broadcast framed once for every local socket (server/ws.py).

Each patch installs only over the code it was written against (versions in the ranges
pyproject.toml pins, and the source of every function it replaces or relies on); otherwise
it is left out with one warning and the stock code runs. WS_SERVER_TUNING=0 installs none."""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import logging
import os
import pkgutil
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from typing import Any

import pytest
import txaio
from autobahn.twisted import websocket as twisted_websocket  # noqa: F401  (txaio on Twisted, as under Daphne)
from autobahn.util import ObservableMixin
from autobahn.websocket import protocol
from autobahn.websocket.xormasker import create_xor_masker
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from server import daphne_tuning
from server.daphne_tuning import PATCHES, Unmasker
from server.embedded import BASE_DIR

PATCH_NAMES = [patch.name for patch in PATCHES]


@functools.cache
def _probe(module: str, **env: str) -> dict[str, Any]:
    """Run a probe module in its own process (each installs a Twisted reactor); its report,
    run once per test session however many tests read it."""
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_writes_go_out_at_once_in_order_and_failures_reach_the_reactor() -> None:
    report = _probe("tests.server.eager_write_probe")
    assert report["uvloop"] is True
    # A small write is on the wire before write() returns: no writer registration.
    assert report["small_write_waited_for_the_loop"] is False
    # What the kernel did not take is left to Twisted's buffered path ...
    assert report["big_write_left_a_remainder"] is True
    # ... and arrives whole, with a later small write kept behind it.
    assert report["bytes_in_order"] is True, report
    # Writing to a connection whose peer closed neither raises nor hides the loss.
    assert report["write_after_peer_closed_raised"] is False
    assert report["connection_lost_reported"] is True


def test_reads_run_without_a_log_context_and_a_failing_read_still_drops_its_connection() -> None:
    report = _probe("tests.server.eager_write_probe")
    assert report["read_log_context"] == "-"  # Twisted's default, not the connection's prefix
    assert report["failing_read_dropped_the_connection"] is True


def test_frames_go_to_the_open_connection_as_autobahn_frames_them_and_closing_sockets_take_the_asgi_send() -> None:
    report = _probe("tests.server.prepared_frame_probe")
    # Only with the tuning ("direct_send"): stock, every frame takes Daphne's send.
    assert report["direct_send_stock"] is False
    assert report["found_the_protocol"] is True
    assert report["other_send_has_none"] is True
    # 7-, 16- and 64-bit payload lengths, each sent twice from one prepared frame.
    assert report["bytes_as_autobahn_frames_them"] == [True, True, True]
    assert report["text_sent_as_autobahn_frames_it"] is True
    assert report["closing_takes_the_asgi_send"] is True
    assert report["closing_wrote_nothing"] is True
    # Masked client frames, whole and split byte by byte, read back through the unmasker.
    assert report["masked_frames_read_back"] is True


def test_a_message_skips_autobahns_event_only_when_nothing_listens() -> None:
    report = _probe("tests.server.prepared_frame_probe")
    assert report["message_without_listener_delivered"] is True
    assert report["event_fired_without_listener"] is False
    # A listener registered with protocol.on("message", ...) still hears every message.
    assert report["message_with_listener_delivered"] is True
    assert report["listener_heard"] is True


@settings(max_examples=300, deadline=None)
@given(mask=st.binary(min_size=4, max_size=4), payload=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300)))
def test_unmasker_matches_autobahn_for_payloads_split_anywhere(mask: bytes, payload: bytes, cuts: list[int]) -> None:
    ours, autobahns = Unmasker(mask, len(payload)), create_xor_masker(mask, len(payload))
    pieces = [payload[start:end] for start, end in itertools.pairwise([0, *sorted(cuts), len(payload)])]
    assert b"".join(ours.process(piece) for piece in pieces) == autobahns.process(payload)
    assert ours.pointer() == len(payload)


def test_log_arguments_of_a_sent_frame_are_the_plain_values_with_the_tuning() -> None:
    report = _probe("tests.server.prepared_frame_probe")
    # Stock autobahn colours a string for each argument, for a line its logger drops.
    assert report["log_args_stock"]["func"].startswith("<")
    assert isinstance(report["log_args_stock"]["data_len"], str)
    # Tuned: the values themselves, nothing built.
    assert report["log_args_tuned"] == {"func": "WebSocketProtocol.sendData", "data_len": 3, "peer_unchanged": True}


def test_inbound_frames_are_unmasked_by_the_c_unmasker_with_the_tuning() -> None:
    assert _probe("tests.server.prepared_frame_probe")["frame_masker"] == "Unmasker"


def test_plain_log_arguments_take_what_autobahns_take() -> None:
    for plain, stock in ((daphne_tuning.plain_type, protocol.hltype), (daphne_tuning.plain_value, protocol.hlval)):
        assert inspect.signature(plain).parameters.keys() == inspect.signature(stock).parameters.keys()
        assert [p.default for p in inspect.signature(plain).parameters.values()] == [
            p.default for p in inspect.signature(stock).parameters.values()
        ]


# --- The copied onMessageEnd --------------------------------------------------------------


class Timings:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def track(self, key: str) -> None:
        self.calls.append(("track", key))


class EndingMessage(ObservableMixin):
    """The state onMessageEnd reads and the calls it makes, recorded in order. ``fire`` is
    autobahn's own (ObservableMixin), watched."""

    def __init__(self, *, failed: bool, timings: bool, listener: bool, raises: bool) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.failedByMe = failed
        self.message_data: list[bytes] | None = [b"he", b"llo"]
        self.message_is_binary = True
        self.trackedTimings = Timings(self.calls) if timings else None
        self.log = txaio.make_logger()  # type: ignore[attr-defined]
        self.raises = raises
        self.set_valid_events(["message"])  # as WebSocketProtocol's __init__ does
        if listener:
            self.on("message", lambda payload, is_binary: self.calls.append(("heard", payload, is_binary)))

    def _onMessage(self, payload: bytes, is_binary: bool) -> None:
        self.calls.append(("onMessage", payload, is_binary))
        if self.raises:
            raise RuntimeError("the application's fault")

    def fire(self, event: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("fire", event))
        return super().fire(event, *args, **kwargs)


def _end_message(on_message_end: Any, **state: bool) -> tuple[EndingMessage, str | None]:
    message = EndingMessage(**state)
    try:
        on_message_end(message)
    except RuntimeError as exc:
        return message, str(exc)
    return message, None


@pytest.mark.parametrize("listener", [False, True], ids=["no-listener", "listener"])
@pytest.mark.parametrize("failed", [False, True], ids=["open", "failedByMe"])
@pytest.mark.parametrize("timings", [False, True], ids=["untimed", "trackedTimings"])
@pytest.mark.parametrize("raises", [False, True], ids=["delivered", "onMessage-raises"])
def test_the_copied_on_message_end_does_what_autobahns_does(
    listener: bool, failed: bool, timings: bool, raises: bool
) -> None:
    [(_, _, copied)] = next(patch for patch in PATCHES if patch.name == "message_event").replacements()
    state = {"failed": failed, "timings": timings, "listener": listener, "raises": raises}
    stock, stock_error = _end_message(protocol.WebSocketProtocol.onMessageEnd, **state)
    ours, our_error = _end_message(copied, **state)

    assert our_error == stock_error
    assert ours.message_data == stock.message_data
    if listener:
        assert ours.calls == stock.calls  # autobahn's own method ran
    else:
        # The same calls in the same order, except the event nobody hears.
        assert ours.calls == [call for call in stock.calls if call[0] != "fire"]
        assert ("fire", "message") not in ours.calls
    if not failed and not raises:
        assert ("onMessage", b"hello", True) in ours.calls
        assert (("heard", b"hello", True) in ours.calls) is listener
        assert (("track", "onMessage") in ours.calls) is timings
        assert ours.message_data is None


def test_autobahns_event_without_a_listener_does_nothing_but_return_a_finished_result() -> None:
    # What the copy skips: with no listener, fire() has no effect a caller could see.
    result = ObservableMixin().fire("message", b"hello", is_binary=False)
    assert result.called and result.result == []


# --- The guards ---------------------------------------------------------------------------


class Recorder:
    """An ``apply`` for install() that records what would be set and sets nothing."""

    def __init__(self) -> None:
        self.set: list[tuple[Any, str, Any]] = []

    def __call__(self, owner: Any, attribute: str, value: Any) -> None:
        self.set.append((owner, attribute, value))


@pytest.fixture
def fresh_install(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """install() as at a process's start (it runs once per process), setting nothing."""
    monkeypatch.setattr(daphne_tuning, "_installed", None)
    return Recorder()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "server.daphne_tuning" and r.levelno >= logging.WARNING]


def test_every_patch_fits_the_installed_libraries() -> None:
    # When this fails after an upgrade: `python -m server.daphne_tuning` says what changed;
    # read the new code against the patch before updating its fingerprints or ranges.
    assert {patch.name: daphne_tuning.mismatch(patch) for patch in PATCHES} == dict.fromkeys(PATCH_NAMES)


def test_all_patches_install_over_the_code_they_were_written_against(
    fresh_install: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    assert daphne_tuning.install(apply=fresh_install) == PATCH_NAMES
    assert {(owner, attribute) for owner, attribute, _ in fresh_install.set} == {
        (owner, attribute) for patch in PATCHES for owner, attribute, _ in patch.replacements()
    }
    assert _warnings(caplog) == []


def _owner_and_attribute(path: str) -> tuple[Any, str]:
    module, _, qualname = path.partition(":")
    owner, _, attribute = qualname.rpartition(".")
    return pkgutil.resolve_name(f"{module}:{owner}" if owner else module), attribute


def changed_upstream(*args: Any, **kwargs: Any) -> None:
    """Stands in for a library function whose code changed in a new release."""


@pytest.mark.parametrize(
    ("patch_name", "path"),
    [(patch.name, path) for patch in PATCHES for path in patch.written_against],
)
def test_a_patch_over_changed_code_is_left_out_with_one_warning(
    patch_name: str,
    path: str,
    fresh_install: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner, attribute = _owner_and_attribute(path)
    monkeypatch.setattr(owner, attribute, changed_upstream)

    installed = daphne_tuning.install(apply=fresh_install)

    assert installed == [name for name in PATCH_NAMES if name != patch_name]
    left_out = next(patch for patch in PATCHES if patch.name == patch_name)
    assert not {(o, a) for o, a, _ in left_out.replacements()} & {(o, a) for o, a, _ in fresh_install.set}
    [warning] = _warnings(caplog)
    assert repr(patch_name) in warning and path in warning and "stock behaviour kept" in warning


def test_a_patch_whose_target_is_gone_is_left_out_with_one_warning(
    fresh_install: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(protocol, "create_xor_masker")
    assert "unmask" not in daphne_tuning.install(apply=fresh_install)
    assert _warnings(caplog) == [
        "Daphne tuning 'unmask' left out, stock behaviour kept: "
        "autobahn.websocket.protocol:create_xor_masker is missing"
    ]


@pytest.mark.parametrize(
    ("distribution", "release", "left_out"),
    [
        ("daphne", "4.3.0", PATCH_NAMES),
        ("twisted", "27.1.0", ["write", "log_context"]),
        ("autobahn", "26.9.1", ["unmask", "log_args", "message_event", "direct_send"]),
    ],
)
def test_patches_are_left_out_for_a_library_release_outside_the_pinned_range(
    distribution: str,
    release: str,
    left_out: list[str],
    fresh_install: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    installed_version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: release if name.lower() == distribution else installed_version(name)
    )

    installed = daphne_tuning.install(apply=fresh_install)

    assert installed == [name for name in PATCH_NAMES if name not in left_out]
    warnings = _warnings(caplog)
    assert len(warnings) == len(left_out)  # one line per patch left out
    for name, warning in zip(left_out, warnings, strict=True):
        assert repr(name) in warning and f"{distribution} {release} is outside" in warning


def test_tuning_off_installs_none(fresh_install: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    assert daphne_tuning.install(enabled=False, apply=fresh_install) == []
    assert fresh_install.set == []
    assert _warnings(caplog) == []


def test_patches_named_off_are_left_out(fresh_install: Recorder) -> None:
    assert daphne_tuning.install(off=["write", "unmask"], apply=fresh_install) == [
        "log_context",
        "log_args",
        "message_event",
        "direct_send",
    ]


def test_an_unknown_patch_name_fails_loudly(fresh_install: Recorder) -> None:
    with pytest.raises(ImproperlyConfigured, match="'wrtie'"):
        daphne_tuning.install(off=["wrtie"], apply=fresh_install)
    assert fresh_install.set == []


@pytest.mark.parametrize(
    ("env", "installed"),
    [
        ({}, PATCH_NAMES),
        ({"WS_SERVER_TUNING": "0"}, []),
        ({"WS_SERVER_TUNING_OFF": "write,unmask"}, ["log_context", "log_args", "message_event", "direct_send"]),
    ],
    ids=["default", "WS_SERVER_TUNING=0", "WS_SERVER_TUNING_OFF"],
)
def test_the_web_process_installs_what_the_settings_allow(env: dict[str, str], installed: list[str]) -> None:
    env = {"WS_SERVER_TUNING": "1", "WS_SERVER_TUNING_OFF": "", **env}
    report = _probe("tests.server.tuning_switch_probe", **env)
    assert report["installed"] == installed
    assert report["replaced"] == {name: [name in installed] * len(report["replaced"][name]) for name in PATCH_NAMES}


def test_the_pinned_ranges_are_pyprojects_and_the_locked_versions_fit_them() -> None:
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    pinned = {
        requirement.name.lower(): requirement.specifier
        for requirement in map(Requirement, project["project"]["dependencies"])
    }
    lock = (BASE_DIR / "requirements" / "prod.lock").read_text()
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", lock, flags=re.MULTILINE))
    for distribution, allowed in daphne_tuning.COMPATIBLE_VERSIONS.items():
        assert pinned[distribution] == SpecifierSet(allowed), distribution
        assert locked[distribution] in SpecifierSet(allowed), distribution
