"""Run as ``python -m tests.server.tuning_switch_probe``: the web process's tuning step
(server/serve.py ``install_tuning``, reading WS_SERVER_TUNING and WS_SERVER_TUNING_OFF from
the environment through the settings), printing one JSON object: the patches it reports
installed and, for each patch, whether the code it patches was replaced.

It runs in its own process because the patches, once installed, stay for the process.
"""

from __future__ import annotations

import json
from typing import Any


def main() -> dict[str, Any]:
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol
    from twisted.internet import asyncioreactor, tcp

    from server import daphne_tuning, serve

    patched: dict[str, list[tuple[Any, str]]] = {
        "write": [(tcp.Server, "write")],
        "log_context": [(asyncioreactor, "callWithLogger")],
        "unmask": [(protocol, "create_xor_masker")],
        "log_args": [(module, name) for module in (protocol, twisted_websocket) for name in ("hltype", "hlval")],
        "message_event": [(protocol.WebSocketProtocol, "onMessageEnd")],
        "direct_send": [(daphne_tuning, "direct_send")],
    }
    stock = {name: [getattr(owner, attribute) for owner, attribute in targets] for name, targets in patched.items()}
    installed = serve.install_tuning()
    replaced = {
        name: [
            getattr(owner, attribute) is not before
            for (owner, attribute), before in zip(targets, stock[name], strict=True)
        ]
        for name, targets in patched.items()
    }
    return {"installed": installed, "replaced": replaced}


if __name__ == "__main__":
    print(json.dumps(main()))
