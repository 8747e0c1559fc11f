// Small DOM helpers. Text from the server or from people (chat, names, titles) is always
// set with textContent, never parsed as HTML.

export function el(tag, { text, className, attrs = {} } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// Polite announcement for screen readers (the page's aria-live region).
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

export function formatTime(iso, timeZone, withDay = true) {
  const options = { hour: "2-digit", minute: "2-digit", timeZone };
  if (withDay) Object.assign(options, { weekday: "short", month: "short", day: "numeric" });
  return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
}

// Today's date (YYYY-MM-DD) and weekday (1 = Monday) in a time zone.
function localDate(timeZone, date = new Date()) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  const weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(parts.weekday) + 1;
  return { iso: `${parts.year}-${parts.month}-${parts.day}`, weekday };
}

function addDays(iso, days) {
  const date = new Date(`${iso}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

// Monday and the next Monday of this ISO week, in the person's time zone.
export function thisWeek(timeZone) {
  const today = localDate(timeZone);
  const monday = addDays(today.iso, 1 - today.weekday);
  return { from: monday, to: addDays(monday, 7) };
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}
