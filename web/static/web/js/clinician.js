// A clinician's home, beside the sessions and the feed (home.js): how many clinical alerts
// are open (to the alerts page), the programs they work in (to their weekly hours pages)
// and this week's sessions so far (to their attendance).
import { api, me } from "./api.js";
import { addDays, allPages, errorText, formatWhen, localDate, showMessage, statusBadge } from "./pages_common.js";
import { clear, el } from "./ui.js";

const message = document.getElementById("clinician-message");
const programsList = document.getElementById("my-programs");
const attendanceList = document.getElementById("attendance-sessions");

async function loadPrograms(person) {
  const programs = await allPages(api, "programs/");
  const mine = person.role === "admin" ? programs : programs.filter((program) => program.clinicians.includes(person.id));
  clear(programsList);
  for (const program of mine) {
    programsList.append(
      el("li", {}, [el("a", { text: `${program.name}: weekly hours`, attrs: { href: `/programs/${program.id}/hours/` } })]),
    );
  }
  if (!mine.length) programsList.append(el("li", { className: "muted", text: "You work in no program yet." }));
}

async function loadAttendance(person) {
  // The last 7 days, today included, newest first: sessions that have (or soon have) records.
  const today = localDate(new Date(), person.timeZone);
  const sessions = await api(`sessions/?from=${addDays(today, -6)}&to=${addDays(today, 1)}`);
  const held = sessions.filter((session) => session.status !== "cancelled" && new Date(session.starts_at) <= new Date());
  clear(attendanceList);
  for (const session of held.reverse()) {
    attendanceList.append(
      el("li", { className: "session", attrs: { "data-session": session.id } }, [
        el("div", { className: "session-main" }, [
          el("span", { className: "session-title", text: session.title }),
          el("span", { className: "muted", text: formatWhen(session.starts_at, person.timeZone) }),
        ]),
        statusBadge(session.status),
        el("a", { text: "Attendance", attrs: { href: `/sessions/${session.id}/attendance/`, "aria-label": `Attendance: ${session.title}, ${formatWhen(session.starts_at, person.timeZone)}` } }),
      ]),
    );
  }
  if (!held.length) attendanceList.append(el("li", { className: "muted", text: "No sessions in the last 7 days." }));
}

async function loadAlerts() {
  const page = await api("alerts/?open=true&limit=1");
  const summary = document.getElementById("alerts-summary");
  summary.textContent = page.count ? `${page.count} open: acknowledge each with a note.` : "No open alerts.";
  summary.classList.toggle("error", page.count > 0);
  summary.classList.toggle("muted", page.count === 0);
}

const person = me();
Promise.all([loadAlerts(), loadPrograms(person), loadAttendance(person)]).catch((error) => showMessage(message, errorText(error)));
