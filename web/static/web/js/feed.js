// The notifications feed: recent ones from the API, new ones live from /ws/notifications/.

import { api } from "./api.js";
import { LiveSocket } from "./live.js";
import { announce, el, formatTime } from "./ui.js";

const SHOWN = 20;

// A body's link (the server writes an absolute URL to one of its own pages) becomes a
// link to that path here, so it opens on this origin whatever the configured base URL.
function bodyWithLinks(text) {
  const body = el("span", { className: "notification-body" });
  for (const part of text.split(/(https?:\/\/\S+)/)) {
    if (!/^https?:\/\//.test(part)) {
      if (part) body.append(document.createTextNode(part));
      continue;
    }
    let path = null;
    try {
      const url = new URL(part);
      path = `${url.pathname}${url.search}`;
    } catch {
      path = null;
    }
    body.append(path ? el("a", { text: part, attrs: { href: path } }) : document.createTextNode(part));
  }
  return body;
}

export function startFeed({ list, status, timeZone }) {
  const seen = new Set();
  // The socket first replays what is unread: only what was created after the page opened is news.
  const openedAt = Date.now();
  let lastId = 0;

  function show(notification, { live }) {
    if (seen.has(notification.id)) return;
    seen.add(notification.id);
    lastId = Math.max(lastId, notification.id);
    const item = el("li", { className: `notification${live ? " fresh" : ""}`, attrs: { "data-notification": notification.id } }, [
      el("span", { className: "notification-title", text: notification.title }),
      notification.body ? bodyWithLinks(notification.body) : null,
      el("time", { className: "muted", text: formatTime(notification.created_at, timeZone), attrs: { datetime: notification.created_at } }),
    ]);
    // Newest first, whichever way each one came.
    const after = [...list.children].find((other) => Number(other.dataset.notification) < notification.id);
    list.insertBefore(item, after || null);
    if (live) announce(`New notification: ${notification.title}`);
    while (list.children.length > SHOWN) list.lastElementChild.remove();
  }

  api(`notifications/?limit=${SHOWN}`)
    .then((page) => {
      const items = Array.isArray(page) ? page : page.results || [];
      for (const notification of items) show(notification, { live: false });
      if (!items.length && !list.children.length) status.textContent = "Nothing new.";
    })
    .catch(() => {});

  const socket = new LiveSocket("/ws/notifications/", {
    onOpen: () => {
      if (lastId) socket.send({ type: "resume", last_id: lastId });
    },
    onFrame: (frame) => {
      if (frame.type === "notification") {
        status.textContent = "";
        show(frame, { live: Date.parse(frame.created_at) > openedAt - 2000 });
      }
    },
    onState: (state) => {
      if (state === "reconnecting") status.textContent = "Reconnecting…";
      else if (state === "open" && status.textContent !== "Nothing new.") status.textContent = "";
    },
  });
  socket.start();
  return socket;
}
