// Host controls in the room: the waiting queue (admit one, admit all), mute, remove (after
// a confirmation), breakouts (open with assignments, close) and ending the session. Shown
// to the session's facilitators; usable by the one who holds the controls (`host`).

import { announce, clear, el } from "./ui.js";

const $ = (id) => document.getElementById(id);

export class HostControls {
  constructor({ send, view }) {
    this.send = send;
    this.view = view;
    this.state = null;
    $("admit-all").addEventListener("click", () => this.send({ type: "host.admit", all: true }));
    $("open-breakouts").addEventListener("click", () => this.openBreakouts());
    $("close-breakouts").addEventListener("click", () => this.send({ type: "breakout.close" }));
    $("breakout-count").addEventListener("change", () => this.assignments());
    $("end-session").addEventListener("click", async () => {
      if (await confirmAction("End this session for everyone?", "End session")) this.send({ type: "host.end" });
    });
  }

  get controlling() {
    return Boolean(this.state && this.state.you.host && this.state.host === this.state.you.id);
  }

  update(state) {
    this.state = state;
    const panel = $("host-panel");
    panel.hidden = !state.you.host;
    if (!state.you.host) return;
    const holder = $("host-holder");
    holder.hidden = this.controlling;
    if (!this.controlling) {
      const who = state.participants.find((p) => p.id === state.host);
      holder.textContent = who ? `${who.name} holds the host controls.` : "Another host holds the controls.";
    }
    for (const control of panel.querySelectorAll(".host-control")) control.disabled = !this.controlling;
    this.waiting();
    this.personActions();
    const open = state.participants.some((p) => p.breakout);
    $("breakout-setup").hidden = open;
    $("close-breakouts").hidden = !open;
    if (!open) this.assignments();
  }

  waiting() {
    const list = $("waiting-list");
    clear(list);
    const queue = this.state.waiting || [];
    const checkins = new Map((this.state.checkins || []).map((checkin) => [checkin.user, checkin]));
    $("waiting-empty").hidden = queue.length > 0;
    $("admit-all").hidden = queue.length === 0;
    for (const person of queue) {
      const admit = el("button", {
        text: "Admit",
        className: "small primary host-control",
        attrs: { type: "button", "aria-label": `Admit ${person.name}` },
      });
      admit.disabled = !this.controlling;
      admit.addEventListener("click", () => this.send({ type: "host.admit", user: person.id }));
      const checkin = checkins.get(person.id);
      const where = checkin ? `checked in: ${checkin.location.region}, ${checkin.location.country}` : "not checked in";
      list.append(
        el("li", { attrs: { "data-waiting": person.id } }, [
          el("span", {}, [el("span", { text: person.name }), el("span", { className: "tag", text: `(${where})` })]),
          admit,
        ]),
      );
    }
  }

  personActions() {
    for (const person of this.state.participants) {
      const slot = document.querySelector(`[data-actions-for="${person.id}"]`);
      if (!slot || person.id === this.state.you.id || person.role === "lead" || person.role === "co") continue;
      const mute = el("button", { text: "Mute", className: "small", attrs: { type: "button", "aria-label": `Mute ${person.name}` } });
      const remove = el("button", { text: "Remove", className: "small danger", attrs: { type: "button", "aria-label": `Remove ${person.name}` } });
      mute.disabled = remove.disabled = !this.controlling;
      mute.addEventListener("click", () => {
        this.send({ type: "host.mute", user: person.id });
        announce(`Muting ${person.name}.`);
      });
      remove.addEventListener("click", async () => {
        if (await confirmAction(`Remove ${person.name} from this session? They cannot come back to it.`, "Remove")) {
          this.send({ type: "host.remove", user: person.id });
        }
      });
      slot.append(mute, remove);
    }
  }

  // One "room" select per participant, main room by default.
  assignments() {
    const box = $("breakout-assignments");
    const previous = new Map([...box.querySelectorAll("select")].map((s) => [s.dataset.user, s.value]));
    clear(box);
    const count = Number($("breakout-count").value);
    const people = this.state.participants.filter((p) => p.role !== "lead" && p.role !== "co");
    people.forEach((person, index) => {
      const id = `breakout-for-${person.id}`;
      const select = el("select", { className: "host-control", attrs: { id, "data-user": person.id } }, [
        el("option", { text: "Main room", attrs: { value: "" } }),
        ...Array.from({ length: count }, (_, i) => el("option", { text: `Room ${i + 1}`, attrs: { value: String(i + 1) } })),
      ]);
      const kept = previous.get(String(person.id));
      select.value = kept !== undefined && Number(kept) <= count ? kept : String((index % count) + 1);
      select.disabled = !this.controlling;
      box.append(el("label", { text: person.name, attrs: { for: id } }), select);
    });
    $("open-breakouts").disabled = !this.controlling || people.length === 0;
  }

  openBreakouts() {
    const rooms = {};
    for (const select of $("breakout-assignments").querySelectorAll("select")) {
      if (!select.value) continue;
      (rooms[select.value] ||= []).push(Number(select.dataset.user));
    }
    if (Object.keys(rooms).length === 0) {
      this.view.error("Assign at least one person to a breakout room.");
      return;
    }
    this.send({ type: "breakout.open", rooms });
  }
}

// A modal question (the page's <dialog>); resolves true when confirmed.
export function confirmAction(question, confirmLabel) {
  const dialog = $("confirm");
  $("confirm-text").textContent = question;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}
