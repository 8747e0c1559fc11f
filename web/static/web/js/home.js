// Home: my sessions this week (with Join when open), my hours this week and "a
// questionnaire is ready" (participants), and the notifications feed, live.

import { api, me } from "./api.js";
import { startFeed } from "./feed.js";
import { clear, el, formatTime, thisWeek } from "./ui.js";

const STATUS_LABELS = { met: "Met", on_track: "On track", at_risk: "At risk", short: "Short" };
const KIND_LABELS = { group: "Group", individual: "Individual", family: "Family" };

function hoursText(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

async function loadSessions(person) {
  const status = document.getElementById("sessions-status");
  const list = document.getElementById("sessions-list");
  const week = thisWeek(person.timeZone);
  try {
    const sessions = await api(`sessions/?from=${week.from}&to=${week.to}`);
    clear(list);
    status.textContent = sessions.length ? "" : "No sessions this week.";
    status.hidden = sessions.length > 0;
    for (const session of sessions) {
      const when = `${formatTime(session.starts_at, person.timeZone)} – ${formatTime(session.ends_at, person.timeZone, false)}`;
      const item = el("li", { className: `session status-${session.status}`, attrs: { "data-session": session.id } }, [
        el("div", { className: "session-main" }, [
          el("span", { className: "session-title", text: session.title }),
          el("span", { className: "muted", text: `${KIND_LABELS[session.kind] || session.kind} · ${when}` }),
        ]),
      ]);
      if (session.status === "open") {
        const label = person.role === "clinician" ? "Open room" : "Join";
        item.append(el("a", { className: "button primary", text: label, attrs: { href: `/sessions/${session.id}/`, "aria-label": `${label}: ${session.title}` } }));
      } else {
        item.append(el("span", { className: `badge ${session.status}`, text: session.status }));
      }
      list.append(item);
    }
  } catch (error) {
    status.textContent = `Could not load your sessions: ${error.message}`;
    status.hidden = false;
  }
}

async function loadHours(person) {
  const box = document.getElementById("hours");
  if (!box) return;
  try {
    const hours = await api(`participants/${person.id}/hours/`);
    clear(box);
    const required = hours.required_minutes || 0;
    const attended = hours.attended_minutes || 0;
    box.append(
      el("p", { className: "hours-figure" }, [
        el("strong", { text: hoursText(attended) }),
        document.createTextNode(` of ${hoursText(required)} attended`),
      ]),
      el("progress", { attrs: { max: Math.max(required, 1), value: Math.min(attended, required || attended), "aria-label": "Hours attended this week" } }),
      el("p", { className: "muted", text: `${hoursText(hours.scheduled_remaining_minutes || 0)} still scheduled this week` }),
      el("p", {}, [el("span", { className: `badge ${hours.status}`, text: STATUS_LABELS[hours.status] || hours.status })]),
    );
  } catch (error) {
    clear(box);
    box.append(el("p", { className: "muted", text: error.status === 404 ? "You are not enrolled in a program this week." : `Could not load your hours: ${error.message}` }));
  }
}

async function loadQuestionnaires() {
  const card = document.getElementById("questionnaire-card");
  if (!card) return;
  try {
    const due = await api("assessments/due/");
    if (!due.length) return;
    const names = due.map((item) => item.instrument.name).join(" and ");
    document.getElementById("questionnaire-text").textContent =
      `${due.length === 1 ? "One questionnaire" : `${due.length} questionnaires`} (${names}): a few short questions for your care team.`;
    card.hidden = false;
  } catch {
    // The card stays hidden; the questionnaire page says what went wrong.
  }
}

const person = me();
loadSessions(person);
loadHours(person);
loadQuestionnaires();
startFeed({
  list: document.getElementById("notifications-list"),
  status: document.getElementById("feed-status"),
  timeZone: person.timeZone,
});
