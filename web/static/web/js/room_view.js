// What the room page shows. Names and chat text are always set as text (textContent),
// never as HTML.

import { announce, clear, el, formatTime } from "./ui.js";

const ROLE_LABELS = { lead: "host", co: "co-host", guardian: "guardian" };
const CONNECTION_LABELS = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  open: "Connected",
  closed: "Disconnected",
};

export class RoomView {
  constructor({ me, timeZone }) {
    this.me = me;
    this.timeZone = timeZone;
    this.chatIds = new Set();
    this.$ = (id) => document.getElementById(id);
  }

  title(text) {
    this.$("room-title").textContent = text;
    document.title = `${text} · Virtual IOP`;
  }

  connection(state) {
    const node = this.$("connection");
    node.textContent = CONNECTION_LABELS[state] || state;
    node.className = `connection ${state}`;
    if (state === "open") this.$("room-error").hidden = true;
  }

  error(message) {
    const node = this.$("room-error");
    node.textContent = message;
    node.hidden = false;
  }

  showWaiting(hostPresent) {
    this.$("in-room").hidden = true;
    this.$("room-over").hidden = true;
    this.$("waiting-room").hidden = false;
    if (hostPresent !== null && hostPresent !== undefined) {
      this.$("waiting-host").textContent = hostPresent ? "The host is here." : "The host has not arrived yet.";
    }
  }

  showOver(text) {
    this.$("in-room").hidden = true;
    this.$("waiting-room").hidden = true;
    this.$("room-over").hidden = false;
    this.$("over-text").textContent = text;
    this.connection("closed");
    announce(text);
  }

  showRoom(state) {
    const wasHidden = this.$("in-room").hidden;
    this.$("waiting-room").hidden = true;
    this.$("room-over").hidden = true;
    this.$("in-room").hidden = false;
    this.people(state);
    this.showRoomControls(state);
    const breakout = state.you.breakout;
    this.$("chat-where").textContent = breakout ? `(breakout room ${breakout})` : "";
    if (wasHidden) announce("You are in the room.");
  }

  showRoomControls(state) {
    if (!state) return;
    const hand = this.$("hand-toggle");
    const raised = Boolean(state.you.hand_raised);
    hand.setAttribute("aria-pressed", String(raised));
    hand.textContent = raised ? "Lower hand" : "Raise hand";
  }

  people(state) {
    if (!state) return;
    const list = this.$("people");
    clear(list);
    const sorted = [...state.participants].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
    for (const person of sorted) {
      const tags = [];
      if (ROLE_LABELS[person.role]) tags.push(ROLE_LABELS[person.role]);
      if (person.id === this.me.id) tags.push("you");
      if (person.breakout) tags.push(`room ${person.breakout}`);
      if (person.muted) tags.push("muted");
      const item = el("li", { attrs: { "data-person": person.id } }, [
        el("span", {}, [
          el("span", { className: "person-name", text: person.name || `#${person.id}` }),
          tags.length ? el("span", { className: "tag", text: `(${tags.join(", ")})` }) : null,
          person.hand_raised ? el("span", { className: "hand", text: "Hand raised", attrs: { "data-hand": "raised" } }) : null,
        ]),
        el("span", { className: "actions", attrs: { "data-actions-for": person.id } }),
      ]);
      list.append(item);
    }
  }

  // One chat line, once (by id), in id order whether it came live, replayed or from history.
  chatLine(line) {
    if (this.chatIds.has(line.id)) return;
    this.chatIds.add(line.id);
    const log = this.$("chat-log");
    const item = el("li", { attrs: { "data-chat-id": line.id } }, [
      el("span", { className: "chat-author", text: line.user.name || `#${line.user.id}` }),
      line.breakout ? el("span", { className: "chat-breakout", text: `[room ${line.breakout}]` }) : null,
      el("span", { className: "chat-text", text: line.text }),
      el("time", { className: "visually-hidden", text: formatTime(line.sent_at, this.timeZone, false), attrs: { datetime: line.sent_at } }),
    ]);
    const later = [...log.children].find((other) => Number(other.dataset.chatId) > line.id);
    log.insertBefore(item, later || null);
    // The log is itself an aria-live region: new lines are read out from there.
    if (!later) log.scrollTop = log.scrollHeight;
  }
}

function rank(person) {
  return person.role === "lead" ? 0 : person.role === "co" ? 1 : 2;
}
