// The open clinical alerts the caller may act on (GET /alerts/?open=true), each with an
// acknowledge form: a note is required (POST /alerts/{id}/acknowledge/). Names come from
// the programs the clinician works in (admins: every program).
import { api, me } from "./api.js";
import { allPages, errorText, formatWhen, personName, showMessage } from "./pages_common.js";
import { announce, clear, el } from "./ui.js";

const list = document.getElementById("alerts");
const message = document.getElementById("alerts-message");
const names = new Map();
const instruments = new Map();

async function loadNames(person) {
  const programs = await allPages(api, "programs/");
  const mine = person.role === "admin" ? programs : programs.filter((program) => program.clinicians.includes(person.id));
  for (const program of mine) {
    for (const participant of await allPages(api, `programs/${program.id}/participants/`)) names.set(participant.id, participant);
  }
  for (const instrument of await api("instruments/")) instruments.set(instrument.code, instrument.name);
}

function acknowledgeForm(alert, name, card) {
  const id = alert.id;
  const feedback = el("p", { className: "message", attrs: { id: `ack-message-${id}`, role: "alert", hidden: true } });
  const note = el("textarea", {
    attrs: { id: `ack-note-${id}`, name: "note", rows: 3, maxlength: 2000, required: true, "aria-describedby": `ack-message-${id}` },
  });
  const form = el("form", { className: "ack-form", attrs: { "aria-label": `Acknowledge the alert about ${name}`, novalidate: true } }, [
    el("div", { className: "field" }, [el("label", { text: "Note (required): what was done", attrs: { for: note.id } }), note]),
    feedback,
    el("button", { className: "primary", text: "Acknowledge", attrs: { type: "submit" } }),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = note.value.trim();
    if (!text) {
      showMessage(feedback, "Write what was done: an acknowledgement needs a note.");
      note.focus();
      return;
    }
    try {
      const done = await api(`alerts/${id}/acknowledge/`, { method: "POST", body: { note: text } });
      form.replaceWith(
        el("p", { className: "message success", text: `Acknowledged at ${formatWhen(done.acknowledged_at, me().timeZone)}. Note: ${done.note}` }),
      );
      card.classList.add("acknowledged");
      announce(`Alert about ${name} acknowledged.`);
    } catch (error) {
      showMessage(feedback, errorText(error, { note: "Note" }));
    }
  });
  return form;
}

function alertCard(alert, person) {
  const name = personName(names.get(alert.participant), alert.participant);
  const card = el("li", { className: "card alert-card", attrs: { "data-alert": alert.id, "data-participant": alert.participant } }, [
    el("h3", { text: name }),
    el("dl", { className: "figures" }, [
      el("div", {}, [el("dt", { text: "Questionnaire" }), el("dd", { text: instruments.get(alert.instrument) || alert.instrument })]),
      el("div", {}, [el("dt", { text: "Raised" }), el("dd", { text: formatWhen(alert.created_at, person.timeZone) })]),
      el("div", {}, [
        el("dt", { text: "Sent to admins" }),
        el("dd", { text: alert.escalations ? `${alert.escalations} time${alert.escalations === 1 ? "" : "s"}` : "Not yet" }),
      ]),
    ]),
  ]);
  card.append(acknowledgeForm(alert, name, card));
  return card;
}

async function load() {
  const person = me();
  await loadNames(person);
  const open = await allPages(api, "alerts/?open=true");
  clear(list);
  for (const alert of open) list.append(alertCard(alert, person));
  if (!open.length) list.append(el("li", { className: "muted", text: "No open alerts." }));
}

load().catch((error) => showMessage(message, errorText(error)));
