// The safety check-in in the waiting room (participants): location and emergency contact
// for this session, prefilled from the last one. Where the program requires it, a host
// can admit the person only once it is in (docs/websocket-protocol.md).

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const FIELDS = {
  region: ["location", "region"],
  country: ["location", "country"],
  address: ["location", "address"],
  contact_name: ["emergency_contact", "name"],
  contact_relation: ["emergency_contact", "relation"],
  contact_phone: ["emergency_contact", "phone"],
};

export class CheckIn {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.section = $("checkin");
    this.loaded = false;
    if (this.section) $("checkin-form").addEventListener("submit", (event) => this.submit(event));
  }

  async show() {
    if (!this.section || this.loaded) return;
    this.loaded = true;
    this.section.hidden = false;
    try {
      const last = await api(`sessions/${this.sessionId}/checkin/`);
      this.fill(last);
      if (!last.prefilled) this.done("You have checked in for this session.");
    } catch {
      // 404: no check-in yet, the form starts empty.
    }
  }

  fill(checkin) {
    const form = $("checkin-form");
    for (const [name, [group, key]] of Object.entries(FIELDS)) {
      if (checkin[group] && checkin[group][key] !== undefined) form.elements[name].value = checkin[group][key];
    }
  }

  done(text) {
    $("checkin-done").textContent = text;
    $("checkin-done").hidden = false;
    $("checkin-form").hidden = true;
  }

  async submit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const body = { location: {}, emergency_contact: {} };
    for (const [name, [group, key]] of Object.entries(FIELDS)) body[group][key] = form.elements[name].value.trim();
    const error = $("checkin-error");
    try {
      await api(`sessions/${this.sessionId}/checkin/`, { method: "POST", body });
      error.hidden = true;
      this.done("Thank you, you have checked in. The host will let you in.");
    } catch (failure) {
      const messages = Object.values(failure.fields || {}).flatMap((value) =>
        typeof value === "object" && !Array.isArray(value) ? Object.values(value).flat() : [value].flat(),
      );
      error.textContent = messages.length ? messages.join(" ") : failure.message;
      error.hidden = false;
    }
  }
}
