// A guardian's family page: for each linked adolescent, what their consent shares
// (schedule, hours, attendance); the family sessions the guardian may see; booking a
// family session in the guardian's own time zone; their bookings, and cancelling one.
import { api, me } from "./api.js";
import {
  addDays, allPages, errorText, formatDay, formatTime, formatWhen, localDate, minutesText, personName, showMessage,
  statusBadge,
} from "./pages_common.js";
import { announce, clear, el } from "./ui.js";

const message = document.getElementById("guardian-message");
const wardsNode = document.getElementById("wards");
const sessionsList = document.getElementById("family-sessions");
const bookingsList = document.getElementById("bookings");
const bookingsMessage = document.getElementById("bookings-message");
const SCOPE_WORDS = { schedule: "schedule", attendance: "attendance", hours: "weekly hours" };
const BOOKING_LABELS = { slot_start: "Time", clinician: "Clinician", participant: "For" };
const person = me();
const clinicianNames = new Map();
const wardNames = new Map();

// One booking attempt, one key: a retry of the same attempt sends the same key, so the
// server books it at most once; picking another time starts a new attempt.
function newIdempotencyKey() {
  if (typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // randomUUID needs a secure context; plain http on a LAN name has only getRandomValues.
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function field(labelText, control) {
  return el("div", { className: "field" }, [el("label", { text: labelText, attrs: { for: control.id } }), control]);
}

function bookingSection(ward, clinicians) {
  const wardId = ward.id;
  const feedback = el("p", { className: "message", attrs: { id: `booking-message-${wardId}`, role: "alert", hidden: true } });
  const clinicianSelect = el(
    "select",
    { attrs: { id: `booking-clinician-${wardId}`, name: "clinician" } },
    clinicians.map((clinician) =>
      el("option", { text: `${personName(clinician)}${clinician.primary ? " (primary clinician)" : ""}`, attrs: { value: clinician.id } }),
    ),
  );
  const today = localDate(new Date(), person.timeZone);
  const fromInput = el("input", { attrs: { id: `booking-from-${wardId}`, name: "from", type: "date", value: today, min: today } });
  const slotsNode = el("div", { className: "slots", attrs: { id: `booking-slots-${wardId}`, "aria-live": "polite" } });
  const bookButton = el("button", { className: "primary", text: "Book this time", attrs: { type: "submit", disabled: true } });
  let attempt = null; // { slot, clinician, key }

  function resetAttempt() {
    attempt = null;
    bookButton.disabled = true;
    bookButton.textContent = "Book this time";
  }

  async function loadSlots() {
    resetAttempt();
    const from = fromInput.value || today;
    const query = new URLSearchParams({ clinician: clinicianSelect.value, from, to: addDays(from, 7) });
    try {
      const body = await api(`bookings/slots/?${query}`);
      clear(slotsNode);
      const byDay = new Map();
      for (const slot of body.slots) {
        const day = slot.local_starts_at.slice(0, 10);
        if (!byDay.has(day)) byDay.set(day, []);
        byDay.get(day).push(slot);
      }
      for (const slots of byDay.values()) {
        const group = el("fieldset", { className: "slot-day" }, [el("legend", { text: formatDay(slots[0].starts_at, person.timeZone) })]);
        for (const slot of slots) {
          const id = `slot-${wardId}-${Date.parse(slot.starts_at)}`;
          const radio = el("input", { attrs: { type: "radio", name: `slot-${wardId}`, id, value: slot.starts_at } });
          radio.addEventListener("change", () => {
            attempt = { slot, clinician: Number(clinicianSelect.value), key: newIdempotencyKey() };
            bookButton.disabled = false;
            bookButton.textContent = "Book this time";
            showMessage(feedback, "");
          });
          const label = `${formatTime(slot.starts_at, person.timeZone)} to ${formatTime(slot.ends_at, person.timeZone)}`;
          group.append(el("span", { className: "slot" }, [radio, el("label", { text: label, attrs: { for: id } })]));
        }
        slotsNode.append(group);
      }
      if (!byDay.size) slotsNode.append(el("p", { className: "muted", text: "No free times in these 7 days. Try a later week." }));
    } catch (error) {
      clear(slotsNode);
      showMessage(feedback, errorText(error));
    }
  }

  async function book() {
    if (!attempt) {
      showMessage(feedback, "Choose a time first.");
      return;
    }
    const current = attempt;
    bookButton.disabled = true;
    try {
      const booking = await api("bookings/", {
        method: "POST",
        body: { slot_start: current.slot.starts_at, clinician: current.clinician, participant: wardId },
        headers: { "Idempotency-Key": current.key },
      });
      const done = `Booked: a family session on ${formatWhen(booking.starts_at, person.timeZone)}.`;
      await Promise.all([loadSlots(), loadBookings(), loadSessions()]);
      showMessage(feedback, done, "success");
      announce(done);
    } catch (error) {
      if (error.status === 409) {
        await Promise.all([loadSlots(), loadBookings(), loadSessions()]);
        showMessage(feedback, "Sorry, that time was just taken by someone else. Please choose another time.");
      } else if (error.status === undefined || error.status >= 500) {
        bookButton.disabled = false;
        bookButton.textContent = "Try again";
        showMessage(feedback, `${errorText(error)} The booking may not have gone through: press "Try again" (it will not book twice).`);
      } else {
        bookButton.disabled = false;
        showMessage(feedback, errorText(error, BOOKING_LABELS));
      }
    }
  }

  const finder = el("form", { className: "slot-finder" }, [
    field("Clinician", clinicianSelect),
    field("Week starting", fromInput),
    el("button", { text: "Show free times", attrs: { type: "submit" } }),
  ]);
  finder.addEventListener("submit", (event) => {
    event.preventDefault();
    loadSlots();
  });
  clinicianSelect.addEventListener("change", loadSlots);
  const picker = el("form", { className: "slot-picker", attrs: { "aria-label": `Free times for a family session with ${ward.username}` } }, [
    slotsNode,
    bookButton,
    feedback,
  ]);
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    book();
  });
  loadSlots();
  return el("section", { className: "booking", attrs: { "aria-labelledby": `booking-title-${wardId}` } }, [
    el("h3", { text: "Book a family session", attrs: { id: `booking-title-${wardId}` } }),
    el("p", { className: "muted", text: `Times are shown in your time zone (${person.timeZone}).` }),
    finder,
    picker,
  ]);
}

async function hoursPart(ward) {
  try {
    const hours = await api(`participants/${ward.id}/hours/`);
    return el("p", {}, [
      `Weekly hours (${hours.week}): ${minutesText(hours.attended_minutes)} of ${minutesText(hours.required_minutes)} `,
      statusBadge(hours.status),
    ]);
  } catch (error) {
    return el("p", { className: "muted", text: `Weekly hours: ${errorText(error)}` });
  }
}

async function attendancePart(ward) {
  try {
    const records = await allPages(api, `participants/${ward.id}/attendance/`);
    const items = records.map((record) => el("li", {}, [statusBadge(record.status), ` ${minutesText(record.minutes)}`]));
    return el("div", {}, [
      el("h3", { text: "Attendance this week" }),
      items.length ? el("ul", { className: "list" }, items) : el("p", { className: "muted", text: "No attendance recorded this week yet." }),
    ]);
  } catch (error) {
    return el("p", { className: "muted", text: `Attendance: ${errorText(error)}` });
  }
}

async function wardSection(link, consent) {
  const ward = link.adolescent;
  wardNames.set(ward.id, ward.username);
  const scopes = consent ? consent.scopes : [];
  const shared = scopes.map((scope) => SCOPE_WORDS[scope] || scope);
  const section = el("section", { className: "card ward", attrs: { "aria-labelledby": `ward-${ward.id}`, "data-ward": ward.id } }, [
    el("h2", { text: ward.username, attrs: { id: `ward-${ward.id}` } }),
    el("p", {
      text: shared.length
        ? `${ward.username}'s consent shares with you: ${shared.join(", ")}.`
        : `${ward.username} has not consented to share anything with you.`,
    }),
  ]);
  if (!scopes.includes("schedule")) {
    section.append(
      el("p", {
        className: "notice no-schedule",
        text: `${ward.username}'s consent does not include the schedule, so their sessions and family-session booking are not shown here. Only ${ward.username} can change that consent.`,
      }),
    );
  }
  if (scopes.includes("hours")) section.append(await hoursPart(ward));
  if (scopes.includes("attendance")) section.append(await attendancePart(ward));
  if (scopes.includes("schedule")) {
    try {
      const clinicians = await api(`participants/${ward.id}/clinicians/`);
      for (const clinician of clinicians) clinicianNames.set(clinician.id, personName(clinician));
      section.append(
        clinicians.length
          ? bookingSection(ward, clinicians)
          : el("p", { className: "muted", text: `${ward.username} has no clinician to book a family session with right now.` }),
      );
    } catch (error) {
      section.append(el("p", { className: "error", text: errorText(error) }));
    }
  }
  return section;
}

async function loadSessions() {
  const today = localDate(new Date(), person.timeZone);
  const sessions = await api(`sessions/?from=${today}&to=${addDays(today, 60)}`);
  clear(sessionsList);
  for (const session of sessions.filter((one) => one.status !== "cancelled")) {
    const item = el("li", { className: "session", attrs: { "data-session": session.id } }, [
      el("div", { className: "session-main" }, [
        el("span", { className: "session-title", text: session.title }),
        el("span", { className: "muted", text: formatWhen(session.starts_at, person.timeZone) }),
      ]),
    ]);
    item.append(
      session.status === "open"
        ? el("a", { className: "button primary", text: "Join", attrs: { href: `/sessions/${session.id}/`, "aria-label": `Join: ${session.title}` } })
        : statusBadge(session.status),
    );
    sessionsList.append(item);
  }
  if (!sessionsList.children.length) sessionsList.append(el("li", { className: "muted", text: "No family sessions you can see in the next 60 days." }));
}

async function cancelBooking(booking, button) {
  const when = formatWhen(booking.starts_at, person.timeZone);
  if (!window.confirm(`Cancel the family session on ${when}?`)) return;
  button.disabled = true;
  try {
    await api(`bookings/${booking.id}/cancel/`, { method: "POST", body: {} });
    await Promise.all([loadBookings(), loadSessions()]);
    showMessage(bookingsMessage, `Cancelled the family session on ${when}.`, "success");
  } catch (error) {
    button.disabled = false;
    const text = error.code === "inside_cancellation_cutoff"
      ? `Too late to cancel here. ${errorText(error)}`
      : errorText(error);
    showMessage(bookingsMessage, text);
  }
  bookingsMessage.focus();
}

async function loadBookings() {
  const now = new Date();
  const bookings = (await allPages(api, "bookings/")).filter((booking) => new Date(booking.ends_at) > now);
  clear(bookingsList);
  for (const booking of bookings) {
    const clinician = clinicianNames.get(booking.clinician) || `clinician #${booking.clinician}`;
    const ward = wardNames.get(booking.participant) || `#${booking.participant}`;
    const when = `${formatWhen(booking.starts_at, person.timeZone)} to ${formatTime(booking.ends_at, person.timeZone)}`;
    const item = el("li", { className: "session booking-item", attrs: { "data-booking": booking.id, "data-status": booking.status } }, [
      el("div", { className: "session-main" }, [
        el("span", { className: "session-title", text: when }),
        el("span", { className: "muted", text: `Family session with ${clinician}, for ${ward}` }),
      ]),
      statusBadge(booking.status),
    ]);
    if (booking.status === "booked") {
      const cancel = el("button", { className: "danger small", text: "Cancel booking", attrs: { type: "button", "aria-label": `Cancel booking: ${when}` } });
      cancel.addEventListener("click", () => cancelBooking(booking, cancel));
      item.append(cancel);
    }
    bookingsList.append(item);
  }
  if (!bookings.length) bookingsList.append(el("li", { className: "muted", text: "No upcoming bookings." }));
}

async function load() {
  const links = (await allPages(api, "guardian-links/")).filter((link) => link.active);
  const consents = (await allPages(api, "consents/")).filter((consent) => consent.active);
  clear(wardsNode);
  for (const link of links) wardsNode.append(await wardSection(link, consents.find((consent) => consent.link === link.id)));
  if (!links.length) wardsNode.append(el("p", { className: "muted", text: "You are not linked to anyone yet: the clinic links guardians to adolescents." }));
  await Promise.all([loadSessions(), loadBookings()]);
}

load().catch((error) => showMessage(message, errorText(error)));
