// The live room: waiting room, then who is here, chat (resume after a reconnect, resync
// when told), hands, host controls and mesh video. One socket, reconnecting by itself.
// Protocol: docs/websocket-protocol.md.

import { api, me } from "./api.js";
import { CheckIn } from "./checkin.js";
import { HostControls } from "./host.js";
import { LiveSocket } from "./live.js";
import { Mesh } from "./media.js";
import { RoomView } from "./room_view.js";
import { announce } from "./ui.js";

const page = document.getElementById("room-page");
const sessionId = Number(page.dataset.sessionId);
const person = me();

const CLOSE_TEXT = {
  1000: "The session has ended.",
  4000: "A host removed you from this session.",
  4401: "Your sign-in has ended. Sign in again to rejoin.",
  4403: "You are not on this session's list.",
  4404: "There is no such session.",
  4429: "The connection was closed after too many refused messages.",
};

class Room {
  constructor() {
    this.view = new RoomView({ me: person, timeZone: person.timeZone });
    this.state = null; // the last room.state, kept current by the frames that follow
    this.lastSeq = 0; // the highest seq received: what a resume asks after
    this.historyAsked = false;
    this.resyncing = false;
    this.outbox = new Map(); // client_id -> text, until the server echoes the line
    this.socket = new LiveSocket(`/ws/sessions/${sessionId}/`, {
      onOpen: () => this.opened(),
      onFrame: (frame) => this.receive(frame),
      onState: (state) => this.view.connection(state),
      onFinal: (code) => this.over(CLOSE_TEXT[code] || "The connection closed."),
    });
    this.mesh = new Mesh({
      sessionId,
      me: person,
      send: (frame) => this.socket.send(frame),
      tiles: document.getElementById("tiles"),
      note: document.getElementById("media-note"),
      nameOf: (id) => {
        const known = this.state && this.state.participants.find((p) => p.id === id);
        return known && known.name ? known.name : "Someone";
      },
    });
    this.checkin = new CheckIn(sessionId);
    this.host = new HostControls({ send: (frame) => this.socket.send(frame), view: this.view });
    this.bindControls();
  }

  start() {
    api(`sessions/${sessionId}/`)
      .then((session) => this.view.title(session.title))
      .catch(() => {});
    this.socket.start();
  }

  opened() {
    // Back after a drop: ask for exactly what was missed (or a resync), then re-send the
    // lines the server has not echoed yet (their client_id makes a repeat harmless).
    if (this.lastSeq > 0) this.socket.send({ type: "resume", last_seq: this.lastSeq });
    this.flushOutbox();
  }

  flushOutbox() {
    for (const [clientId, text] of this.outbox) {
      this.socket.send({ type: "chat.send", text, client_id: clientId });
    }
  }

  bump(frame) {
    if (typeof frame.seq === "number" && frame.type !== "room.state") this.lastSeq = Math.max(this.lastSeq, frame.seq);
  }

  receive(frame) {
    this.bump(frame);
    const handler = HANDLERS[frame.type];
    if (handler) handler(this, frame);
  }

  roomState(frame) {
    // A fresh state after a resync (or the first one) stands for everything up to its seq;
    // after a plain reconnect the resume replays what came before it.
    if (this.lastSeq === 0 || this.resyncing) this.lastSeq = Math.max(this.lastSeq, frame.seq);
    this.resyncing = false;
    this.state = frame;
    if (frame.status === "ended" || frame.status === "cancelled") {
      this.over("This session has ended.");
      return;
    }
    if (!frame.you.admitted) {
      this.view.showWaiting(null);
      this.checkin.show();
      this.mesh.stop();
      return;
    }
    this.view.showRoom(frame);
    this.render();
    if (!this.historyAsked && frame.seq > 0) {
      // A resume from 0 is always beyond the room's log: the server answers with a resync,
      // a fresh state and the recent chat this person may see.
      this.historyAsked = true;
      this.socket.send({ type: "resume", last_seq: 0 });
      return;
    }
    this.historyAsked = true;
    this.mesh.arrive(frame);
  }

  // Who is here, my controls and the host panel, from the current state.
  render() {
    if (!this.state) return;
    this.view.people(this.state);
    this.view.showRoomControls(this.state);
    this.host.update(this.state);
  }

  over(text) {
    this.socket.stop();
    this.mesh.stop();
    this.view.showOver(text);
  }

  bindControls() {
    document.getElementById("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("chat-input");
      const text = input.value.trim();
      if (!text) return;
      const clientId = crypto.randomUUID();
      this.outbox.set(clientId, text);
      this.socket.send({ type: "chat.send", text, client_id: clientId });
      input.value = "";
      input.focus();
    });
    document.getElementById("hand-toggle").addEventListener("click", () => {
      const raised = Boolean(this.state && this.state.you.hand_raised);
      this.socket.send({ type: raised ? "hand.lower" : "hand.raise" });
    });
    document.getElementById("leave").addEventListener("click", () => {
      this.socket.stop();
      this.mesh.stop();
      window.location.assign("/");
    });
    document.getElementById("camera-toggle").addEventListener("click", (event) => {
      const on = this.mesh.toggle("video");
      setToggle(event.currentTarget, on, "Camera");
    });
    document.getElementById("mic-toggle").addEventListener("click", (event) => {
      const on = this.mesh.toggle("audio");
      setToggle(event.currentTarget, on, "Microphone");
    });
  }
}

function setToggle(button, on, what) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = `${what} ${on ? "on" : "off"}`;
}

function updatePerson(room, userId, changes) {
  if (!room.state) return;
  const person = room.state.participants.find((p) => p.id === userId);
  if (person) Object.assign(person, changes);
  if (userId === room.state.you.id) Object.assign(room.state.you, changes);
}

const HANDLERS = {
  "room.state": (room, frame) => room.roomState(frame),
  waiting: (room, frame) => {
    if (!room.state || !room.state.you.admitted) room.view.showWaiting(frame.host_present);
  },
  admitted: () => announce("You are in the room."),
  resync: (room) => {
    room.resyncing = true;
  },
  "chat.history": (room, frame) => {
    for (const line of frame.messages) room.view.chatLine(line);
  },
  "chat.message": (room, frame) => {
    room.outbox.delete(frame.client_id);
    room.view.chatLine(frame);
  },
  "presence.joined": (room, frame) => {
    if (!room.state) return;
    if (!room.state.participants.some((p) => p.id === frame.user.id)) {
      room.state.participants.push({ ...frame.user, hand_raised: false, breakout: null });
    }
    room.render();
    announce(`${frame.user.name} joined.`);
  },
  "presence.left": (room, frame) => {
    // A replayed "left" about me (my own drop, seen after I came back) changes nothing here.
    if (!room.state || frame.user.id === person.id) return;
    room.state.participants = room.state.participants.filter((p) => p.id !== frame.user.id);
    room.render();
    room.mesh.leave(frame.user.id);
    announce(frame.reason === "removed" ? `${frame.user.name} was removed.` : `${frame.user.name} left.`);
  },
  "waiting.joined": (room, frame) => {
    if (!room.state || !room.state.waiting) return;
    if (!room.state.waiting.some((p) => p.id === frame.user.id)) room.state.waiting.push({ ...frame.user });
    room.host.update(room.state);
    announce(`${frame.user.name} is waiting.`);
  },
  "checkin.received": (room, frame) => {
    if (!room.state) return;
    room.state.checkins = [...(room.state.checkins || []).filter((c) => c.user !== frame.checkin.user), frame.checkin];
    room.render();
  },
  "waiting.left": (room, frame) => {
    if (!room.state || !room.state.waiting) return;
    room.state.waiting = room.state.waiting.filter((p) => p.id !== frame.user.id);
    room.render();
  },
  "hand.raised": (room, frame) => {
    updatePerson(room, frame.user.id, { hand_raised: true });
    room.render();
    announce(`${frame.user.name} raised their hand.`);
  },
  "hand.lowered": (room, frame) => {
    updatePerson(room, frame.user.id, { hand_raised: false });
    room.render();
  },
  muted: (room, frame) => {
    updatePerson(room, frame.user, { muted: true });
    if (frame.user === person.id) {
      room.mesh.set("audio", false);
      setToggle(document.getElementById("mic-toggle"), false, "Microphone");
      announce("A host muted your microphone.");
    }
    room.render();
  },
  removed: (room) => room.over(CLOSE_TEXT[4000]),
  "session.ended": (room) => room.over("The host ended the session."),
  "host.changed": (room, frame) => {
    if (!room.state) return;
    room.state.host = frame.host;
    room.render();
  },
  "breakout.opened": (room, frame) => {
    if (!room.state) return;
    const where = new Map();
    for (const [number, ids] of Object.entries(frame.rooms)) for (const id of ids) where.set(id, Number(number));
    for (const p of room.state.participants) p.breakout = where.get(p.id) ?? null;
    room.state.you.breakout = where.get(person.id) ?? null;
    room.state.breakouts_open = true;
    room.view.showRoom(room.state);
    room.render();
    room.mesh.regroup(room.state);
    announce(room.state.you.breakout ? `You are in breakout room ${room.state.you.breakout}.` : "Breakout rooms are open.");
  },
  "breakout.closed": (room) => {
    if (!room.state) return;
    for (const p of room.state.participants) p.breakout = null;
    room.state.you.breakout = null;
    room.state.breakouts_open = false;
    room.view.showRoom(room.state);
    room.render();
    room.mesh.regroup(room.state);
    announce("Everyone is back in the main room.");
  },
  error: (room, frame) => room.view.error(frame.message),
  "rtc.offer": (room, frame) => room.mesh.offer(frame),
  "rtc.answer": (room, frame) => room.mesh.answer(frame),
  "rtc.ice": (room, frame) => room.mesh.ice(frame),
};

const room = new Room();
room.start();
// Lets a test (or a curious person in the console) drop the connection as a network
// failure would; the room reconnects by itself.
window.iopRoom = { dropConnection: () => room.socket.drop() };
