// A session's attendance records (GET /sessions/{id}/attendance/), each with the computed
// figures beside what counts, and a clinician's override (PATCH /attendance/{id}/: a
// status and/or minutes, or clearing them, always with a reason).
import { api, me } from "./api.js";
import { allPages, errorText, formatWhen, minutesText, showMessage, statusBadge, statusLabel } from "./pages_common.js";
import { announce, clear, el } from "./ui.js";

const root = document.getElementById("session-attendance");
const sessionId = root.dataset.session;
const list = document.getElementById("attendance-records");
const message = document.getElementById("attendance-message");
const OVERRIDE_STATUSES = ["attended", "late", "left_early", "partial", "absent", "excused"];
const FIELD_LABELS = { override_status: "New status", override_minutes: "Minutes that count", reason: "Reason" };
const names = new Map();

async function loadNames(person) {
  // The people of the programs this clinician works in (admins: all programs).
  const programs = await allPages(api, "programs/");
  const mine = person.role === "admin" ? programs : programs.filter((program) => program.clinicians.includes(person.id));
  for (const program of mine) {
    for (const participant of await allPages(api, `programs/${program.id}/participants/`)) {
      names.set(participant.id, participant);
    }
  }
}

function nameOf(userId) {
  const person = names.get(userId);
  if (!person) return `Participant #${userId}`;
  return [person.first_name, person.last_name].filter(Boolean).join(" ") || person.username;
}

function field(labelText, control, className = "field") {
  return el("div", { className }, [el("label", { text: labelText, attrs: { for: control.id } }), control]);
}

function overrideForm(record) {
  const id = record.id;
  const name = nameOf(record.user);
  const feedback = el("p", { className: "message", attrs: { id: `override-message-${id}`, role: "alert", hidden: true } });
  const statusSelect = el("select", { attrs: { id: `override-status-${id}`, name: "override_status" } }, [
    el("option", { text: "No change", attrs: { value: "" } }),
    ...OVERRIDE_STATUSES.map((status) => el("option", { text: statusLabel(status), attrs: { value: status } })),
  ]);
  const minutesInput = el("input", {
    attrs: { id: `override-minutes-${id}`, name: "override_minutes", type: "number", min: 0, step: 1, inputmode: "numeric" },
  });
  const reasonInput = el("textarea", {
    attrs: { id: `override-reason-${id}`, name: "reason", rows: 2, maxlength: 2000, required: true, "aria-describedby": `override-message-${id}` },
  });
  const hasOverride = record.override_status !== null || record.override_minutes !== null;
  const clearBox = el("input", { attrs: { id: `override-clear-${id}`, name: "clear", type: "checkbox" } });
  const form = el("form", { className: "override-form", attrs: { "aria-label": `Override attendance of ${name}`, novalidate: true } }, [
    field("New status", statusSelect),
    field("Minutes that count", minutesInput),
    hasOverride ? el("div", { className: "field check" }, [clearBox, el("label", { text: "Remove the override", attrs: { for: clearBox.id } })]) : null,
    field("Reason (required)", reasonInput, "field wide"),
    el("div", { className: "field wide" }, [el("button", { className: "primary", text: "Save override", attrs: { type: "submit" } })]),
    feedback,
  ]);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: reasonInput.value.trim() };
    if (clearBox.checked) {
      body.override_status = null;
      body.override_minutes = null;
    } else {
      if (statusSelect.value) body.override_status = statusSelect.value;
      if (minutesInput.value !== "") body.override_minutes = Number(minutesInput.value);
    }
    if (!("override_status" in body) && !("override_minutes" in body)) {
      showMessage(feedback, "Choose a new status or enter the minutes that count.");
      statusSelect.focus();
      return;
    }
    if (!body.reason) {
      showMessage(feedback, "Give a reason for the change: it is kept with the record.");
      reasonInput.focus();
      return;
    }
    try {
      const updated = await api(`attendance/${id}/`, { method: "PATCH", body });
      const card = recordCard(updated);
      form.closest("li").replaceWith(card);
      showMessage(card.querySelector(".record-saved"), "Override saved.", "success");
      announce(`Override saved for ${name}.`);
      card.querySelector("h3").focus();
    } catch (error) {
      showMessage(feedback, errorText(error, FIELD_LABELS));
    }
  });
  return form;
}

function recordCard(record) {
  const overridden = record.override_status !== null || record.override_minutes !== null;
  const figures = el("dl", { className: "figures" }, [
    el("div", {}, [
      el("dt", { text: "Computed from the room" }),
      el("dd", { className: "computed" }, [statusBadge(record.computed_status), document.createTextNode(` ${minutesText(record.computed_minutes)}`)]),
    ]),
    el("div", {}, [
      el("dt", { text: overridden ? "Counts (override)" : "Counts" }),
      el("dd", { className: "effective" }, [statusBadge(record.status), document.createTextNode(` ${minutesText(record.minutes)}`)]),
    ]),
  ]);
  return el("li", { className: "card record", attrs: { "data-record": record.id, "data-user": record.user } }, [
    el("h3", { text: nameOf(record.user), attrs: { tabindex: -1 } }),
    figures,
    overridden && record.override_reason ? el("p", { className: "muted override-note", text: `Reason: ${record.override_reason}` }) : null,
    el("p", { className: "record-saved", attrs: { hidden: true } }),
    overrideForm(record),
  ]);
}

async function load() {
  const person = me();
  const session = await api(`sessions/${sessionId}/`);
  document.getElementById("session-title").textContent = `Attendance: ${session.title}`;
  document.getElementById("session-when").textContent = `${formatWhen(session.starts_at, person.timeZone)} · ${statusLabel(session.status)}`;
  await loadNames(person);
  const records = await api(`sessions/${sessionId}/attendance/`);
  clear(list);
  for (const record of records) list.append(recordCard(record));
  if (!records.length) {
    const text = session.status === "ended"
      ? "No attendance records yet: they are written shortly after the session ends. Reload in a moment."
      : "Attendance is recorded when the session ends.";
    showMessage(message, text, "info");
  }
}

load().catch((error) => showMessage(message, errorText(error)));
