"""The live room: one module a job.

- ``access``: who may enter (a refusal carries a reason; the consumer maps it to a close code)
- ``presence`` / ``presence_store``: arriving and leaving; sockets, waiting queue, admissions in Redis
- ``attendance``: attendance segments in PostgreSQL
- ``host``: host controls (admit, mute, remove, end) and who holds them
- ``hands``, ``chat`` (with ``chat_poster``, the batched INSERT), ``breakouts``
- ``signaling``: mesh media's rtc.* frames, relayed to one person in the sender's part of the room;
  ``sfu_sync``: removal, mute and breakout moves carried to the LiveKit SFU
- ``state``: the ``room.state`` frame; ``resume``: replay or resync after a gap
- ``members``: who a socket is and which broadcasts it sees
- ``events``: every outbound frame, typed; ``frames``: every inbound frame's schema;
  ``protocol``: both published as docs/websocket-protocol.md and its JSON Schema
- ``store``: Redis keys and the room's stream (seq, replay log); ``broadcast``: publishing after commit
- ``hub``: per-process fan-out and revocations; ``consumer``: the websocket consumer
"""
