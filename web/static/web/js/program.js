// A program's weekly hours by participant, riskiest first (GET /programs/{id}/hours/),
// with a week picker and the sort; names from GET /programs/{id}/participants/.
import { api } from "./api.js";
import { allPages, errorText, isoWeekOf, localDate, minutesText, shiftWeek, showMessage, statusBadge } from "./pages_common.js";
import { clear, el } from "./ui.js";

const root = document.getElementById("program-hours");
const programId = root.dataset.program;
const form = document.getElementById("hours-form");
const weekInput = document.getElementById("hours-week");
const sortInput = document.getElementById("hours-sort");
const rowsNode = document.getElementById("hours-rows");
const table = document.getElementById("hours-table");
const message = document.getElementById("hours-message");
const caption = document.getElementById("hours-caption");
let names = new Map();

async function loadProgram() {
  const program = await api(`programs/${programId}/`);
  document.getElementById("program-name").textContent = `${program.name}: weekly hours`;
  document.title = `${program.name}: weekly hours · Virtual IOP`;
  const params = new URLSearchParams(window.location.search);
  weekInput.value = params.get("week") || isoWeekOf(localDate(new Date(), program.time_zone));
  sortInput.value = params.get("sort") === "participant" ? "participant" : "risk";
  const people = await allPages(api, `programs/${programId}/participants/`);
  names = new Map(people.map((person) => [person.id, person]));
}

function row(hours) {
  const person = names.get(hours.participant);
  const name = person
    ? [person.first_name, person.last_name].filter(Boolean).join(" ") || person.username
    : `Participant #${hours.participant}`;
  const missing = Math.max(hours.required_minutes - hours.attended_minutes, 0);
  return el("tr", { attrs: { "data-participant": hours.participant, "data-status": hours.status } }, [
    el("th", { text: name, attrs: { scope: "row" } }),
    el("td", {}, [statusBadge(hours.status)]),
    el("td", { text: minutesText(hours.attended_minutes) }),
    el("td", { text: minutesText(hours.required_minutes) }),
    el("td", { text: missing ? minutesText(missing) : "–" }),
    el("td", { text: minutesText(hours.scheduled_remaining_minutes) }),
    el("td", { text: hours.level_of_care }),
  ]);
}

async function loadHours() {
  showMessage(message, "");
  const query = new URLSearchParams({ sort: sortInput.value });
  if (weekInput.value) query.set("week", weekInput.value);
  table.setAttribute("aria-busy", "true");
  try {
    const rows = await api(`programs/${programId}/hours/?${query}`);
    caption.textContent = `Week ${weekInput.value || "this week"}, ${sortInput.value === "risk" ? "riskiest first" : "by participant"}`;
    clear(rowsNode);
    for (const hours of rows) rowsNode.append(row(hours));
    if (!rows.length) showMessage(message, "No one was enrolled in this program that week.", "info");
    window.history.replaceState(null, "", `?${query}`);
  } catch (error) {
    clear(rowsNode);
    showMessage(message, errorText(error));
  } finally {
    table.removeAttribute("aria-busy");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  loadHours();
});
sortInput.addEventListener("change", loadHours);
for (const [id, weeks] of [["hours-previous", -1], ["hours-next", 1]]) {
  document.getElementById(id).addEventListener("click", () => {
    weekInput.value = shiftWeek(weekInput.value, weeks);
    loadHours();
  });
}

loadProgram()
  .then(loadHours)
  .catch((error) => showMessage(message, errorText(error)));
