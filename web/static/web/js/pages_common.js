// Helpers shared by the clinician and guardian pages (ui.js has the DOM helpers): the
// API's error envelope in words, dates in the person's own time zone, paging.
import { el } from "./ui.js";

// The API's envelope in words: each field's message under the label the page shows for
// it ("New status: Only an absence can be excused."), else the message. A failed fetch
// (no answer at all) says so.
export function errorText(error, labels = {}) {
  if (!error) return "Something went wrong.";
  if (error.status === undefined) return "No answer from the server. Check your connection and try again.";
  const parts = [];
  for (const [field, messages] of Object.entries(error.fields || {})) {
    const text = [].concat(messages).join(" ");
    const label = labels[field] || field.replaceAll("_", " ");
    parts.push(field === "non_field_errors" ? text : `${label}: ${text}`);
  }
  return parts.length ? parts.join(" ") : error.message;
}

// kind: "error", "success" or "info" (pages.css); an empty text hides the node.
export function showMessage(node, text, kind = "error") {
  node.textContent = text;
  node.classList.remove("error", "success", "info");
  node.classList.add("message", kind);
  node.hidden = !text;
}

export function formatWhen(iso, timeZone, options = {}) {
  const formatter = new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: "short",
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    ...options,
  });
  return formatter.format(new Date(iso));
}

export function formatTime(iso, timeZone) {
  return new Intl.DateTimeFormat(undefined, { timeZone, hour: "numeric", minute: "2-digit" }).format(new Date(iso));
}

export function formatDay(iso, timeZone) {
  return new Intl.DateTimeFormat(undefined, { timeZone, weekday: "long", month: "long", day: "numeric" }).format(
    new Date(iso),
  );
}

// The local date (YYYY-MM-DD) of an instant in a zone.
export function localDate(date, timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(date)
    .reduce((acc, part) => ({ ...acc, [part.type]: part.value }), {});
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export function addDays(isoDate, days) {
  const date = new Date(`${isoDate}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

// ISO week ("2026-W48") of a local date (YYYY-MM-DD).
export function isoWeekOf(isoDate) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const yearStart = new Date(Date.UTC(date.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((date - yearStart) / 86400000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

// The ISO week ("2026-W48") some weeks before or after another.
export function shiftWeek(label, weeks) {
  const match = /^(\d{4})-W(\d{2})$/.exec(label);
  if (!match) return label;
  const jan4 = new Date(Date.UTC(Number(match[1]), 0, 4));
  const monday = new Date(jan4);
  monday.setUTCDate(jan4.getUTCDate() - ((jan4.getUTCDay() || 7) - 1) + (Number(match[2]) - 1 + weeks) * 7);
  return isoWeekOf(monday.toISOString().slice(0, 10));
}

export function minutesText(minutes) {
  if (minutes === null || minutes === undefined) return "–";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (!hours) return `${rest} min`;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

const STATUS_LABELS = {
  met: "Met",
  on_track: "On track",
  at_risk: "At risk",
  short: "Short",
  attended: "Attended",
  late: "Late",
  left_early: "Left early",
  partial: "Partial",
  absent: "Absent",
  excused: "Excused",
  scheduled: "Scheduled",
  open: "Open now",
  ended: "Ended",
  cancelled: "Cancelled",
  booked: "Booked",
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || status;
}

// A status shown as a word in a badge (never by colour alone).
export function statusBadge(status) {
  return el("span", { className: `badge ${status}`, text: statusLabel(status) });
}

export function personName(person, fallbackId) {
  if (!person) return `Participant #${fallbackId}`;
  const full = [person.first_name, person.last_name].filter(Boolean).join(" ");
  return full || person.username || `#${person.id}`;
}

// Every page of a paginated list ({count, results}); a plain list is returned as it is.
export async function allPages(api, path, pageSize = 200) {
  const joiner = path.includes("?") ? "&" : "?";
  const rows = [];
  for (let offset = 0; ; offset += pageSize) {
    const body = await api(`${path}${joiner}limit=${pageSize}&offset=${offset}`);
    if (Array.isArray(body)) return body;
    rows.push(...body.results);
    if (!body.next || body.results.length === 0) return rows;
  }
}
